"""SyncFreeOptimWrapper and DecayGroupsOptimWrapperConstructor."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

from alpro.engine import SyncFreeOptimWrapper


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)
        self.temp = nn.Parameter(torch.tensor(0.07))

    def forward(self, x):
        return self.norm(self.linear(x) + self.frozen(x)) / self.temp


def build(model, **wrapper):
    cfg = dict(
        type='SyncFreeOptimWrapper',
        constructor='DecayGroupsOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=0.1, weight_decay=0.5, fused=True),
        **wrapper)
    with DefaultScope.overwrite_default_scope('alpro'):
        return build_optim_wrapper(model, cfg)


def test_two_groups_of_trainable_parameters():
    model = Net()
    wrapper = build(model)
    assert isinstance(wrapper, SyncFreeOptimWrapper)
    decay, no_decay = wrapper.optimizer.param_groups
    assert [p.shape for p in decay['params']] == [(4, 4)]
    assert decay['params'][0] is model.linear.weight
    assert {id(p)
            for p in no_decay['params']} == {
                id(model.linear.bias),
                id(model.norm.weight),
                id(model.norm.bias),
                id(model.temp)
            }
    assert decay['weight_decay'] == 0.5 and no_decay['weight_decay'] == 0.0
    assert wrapper.optimizer.defaults['fused'] is True
    frozen = model.frozen.weight.clone()
    wrapper.update_params(model(torch.randn(2, 4)).pow(2).mean())
    assert torch.equal(model.frozen.weight, frozen)
    assert not wrapper.optimizer.state.get(model.frozen.weight)


def test_paramwise_cfg_is_refused():
    with pytest.raises(ValueError, match='paramwise_cfg'):
        build(Net(), paramwise_cfg=dict(norm_decay_mult=0.0))


def test_bf16_autocast_without_a_scaler():
    model = Net()
    wrapper = build(model, dtype='bfloat16')
    with wrapper.optim_context(model):
        out = model.linear(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    assert not hasattr(wrapper, 'loss_scaler')
    full = build(model)
    with full.optim_context(model):
        assert model.linear(torch.randn(2, 4)).dtype == torch.float32
    with pytest.raises(ValueError, match='float16 needs loss scaling'):
        build(model, dtype='float16')


def test_clips_and_logs_the_norm_every_n_steps():
    hub = MessageHub.get_instance('sync_free_test')
    model = Net()
    wrapper = build(model, clip_grad=dict(max_norm=0.01), grad_norm_interval=3)
    wrapper.message_hub = hub
    wrapper.backward(model(torch.randn(8, 4)).pow(2).mean() * 100)
    wrapper._clip_grad()
    grads = [
        p.grad.flatten() for p in model.parameters() if p.grad is not None
    ]
    assert torch.cat(grads).norm() <= 0.01 + 1e-6
    wrapper.zero_grad()
    counts = []
    for _ in range(6):
        wrapper.update_params(model(torch.randn(8, 4)).pow(2).mean())
        logged = hub.log_scalars.get('train/grad_norm')
        counts.append(0 if logged is None else len(logged.data[0]))
    # the norm is read on the host (a sync) only on every third clip
    assert counts == [0, 1, 1, 1, 2, 2]  # clips 2..7: logged at 3 and 6
