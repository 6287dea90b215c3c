"""VTMHead: shape, initialisation, registry."""
import torch

from alpro.models.heads import VTMHead
from alpro.registry import HEADS


def test_shape_and_gradient():
    head = VTMHead(in_dims=16)
    head.init_weights()
    feat = torch.randn(5, 16, requires_grad=True)
    logits = head(feat)
    assert logits.shape == (5, 2)
    logits.sum().backward()
    assert feat.grad is not None and head.fc.weight.grad is not None
    # BERT's initialisation: small weights, zero bias
    assert head.fc.weight.std() < 0.05 and not head.fc.bias.any()


def test_registry_build():
    head = HEADS.build(dict(type='VTMHead', in_dims=8, num_classes=3))
    assert isinstance(head, VTMHead)
    assert head(torch.randn(2, 8)).shape == (2, 3)
