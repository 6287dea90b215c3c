"""PEMHead: shape, width, activation, registry, region pooling and loss."""
import pytest
import torch
from torch import nn

from alpro.models.heads import PEMHead
from alpro.registry import HEADS


def test_shape_and_default_width():
    head = PEMHead(in_dims=16, num_entities=10)
    assert head(torch.randn(4, 16)).shape == (4, 10)
    first, act, last = head.mlp
    # ALPRO's width: 2 * D
    assert first.out_features == 32 and last.in_features == 32
    assert isinstance(act, nn.GELU)


def test_hidden_dims_and_relu():
    head = PEMHead(16, 10, hidden_dims=24, activation='relu')
    assert head.mlp[0].out_features == 24
    assert isinstance(head.mlp[1], nn.ReLU)
    with pytest.raises(ValueError, match='activation'):
        PEMHead(16, 10, activation='tanh')


def test_registry_build_and_gradient():
    head = HEADS.build(dict(type='PEMHead', in_dims=8, num_entities=5))
    assert isinstance(head, PEMHead)
    head.init_weights()
    out = head(torch.randn(3, 8))
    assert out.shape == (3, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in head.parameters())


def test_region_logits_pool_only_the_region_s_patches():
    """fused = [text (L) ; video cls ; patches (N)]: the region's patch
    outputs are mean-pooled; text, cls and other patches do not count."""
    torch.manual_seed(0)
    head = PEMHead(in_dims=4, num_entities=3)
    text_len, patches = 2, 5
    fused = torch.randn(2, text_len + 1 + patches, 4)
    region = torch.tensor([[1, 1, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
    expected = head(torch.stack([fused[0, 3:5].mean(0), fused[1, 7]]))
    torch.testing.assert_close(
        head.region_logits(fused, text_len, region), expected)
    changed = fused.clone()
    changed[:, :3] += 10  # text and video cls
    changed[0, 5:] += 10  # patches outside sample 0's region
    torch.testing.assert_close(
        head.region_logits(changed, text_len, region)[0], expected[0])


def test_loss_is_the_soft_cross_entropy_over_kept_samples():
    torch.manual_seed(0)
    head = PEMHead(in_dims=4, num_entities=3)
    fused = torch.randn(3, 1 + 1 + 2, 4)
    region = torch.ones(3, 2, dtype=torch.bool)
    probs = torch.softmax(torch.randn(3, 3), -1)
    keep = torch.tensor([True, False, True])
    out = head.loss(fused, 1, region, probs, keep)
    logits = head.region_logits(fused, 1, region)
    per_sample = -(probs * logits.log_softmax(-1)).sum(-1)
    torch.testing.assert_close(out['loss_pem'], per_sample[keep].mean())
    assert float(out['pem_kept']) == pytest.approx(2 / 3)
    entropy = -(probs * probs.log()).sum(-1).mean()
    torch.testing.assert_close(out['pem_entropy'], entropy)
