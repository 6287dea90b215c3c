"""PEMHead: shape, width, activation, registry."""
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
