"""QAHead: shape, ALPRO's layers, initialisation, registry."""
import pytest
import torch
from torch import nn

from alpro.models.heads import QAHead
from alpro.registry import HEADS


def test_shape_and_gradient():
    head = QAHead(in_dims=16, num_answers=7)
    head.init_weights()
    feat = torch.randn(5, 16, requires_grad=True)
    logits = head(feat)
    assert logits.shape == (5, 7)
    logits.sum().backward()
    assert feat.grad is not None and head.fc1.weight.grad is not None
    # BERT's initialisation: small weights, zero bias
    assert head.fc1.weight.std() < 0.05 and not head.fc2.bias.any()


def test_alpro_classifier_layers():
    # Linear(D, 2D) - ReLU - Linear(2D, A), as ALPRO's classifier
    head = QAHead(in_dims=8, num_answers=3)
    assert (head.fc1.in_features, head.fc1.out_features) == (8, 16)
    assert (head.fc2.in_features, head.fc2.out_features) == (16, 3)
    assert isinstance(head.act, nn.ReLU)
    feat = torch.randn(4, 8)
    expected = head.fc2(torch.relu(head.fc1(feat)))
    torch.testing.assert_close(head(feat), expected)


def test_registry_build_and_bad_size():
    head = HEADS.build(dict(type='QAHead', in_dims=8, num_answers=5))
    assert isinstance(head, QAHead)
    assert head(torch.randn(2, 8)).shape == (2, 5)
    with pytest.raises(ValueError, match='num_answers'):
        QAHead(in_dims=8, num_answers=0)
