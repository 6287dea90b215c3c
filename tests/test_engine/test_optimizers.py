"""SyncFreeOptimWrapper and DecayGroupsOptimWrapperConstructor."""
from unittest import mock

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn
from torch.overrides import TorchFunctionMode

from alpro.engine import (DecayGroupsOptimWrapperConstructor,
                          SyncFreeOptimWrapper)
from alpro.engine.hooks.sync_free_runtime_info_hook import DEVICE_SCALARS
from alpro.registry import BACKBONES
from alpro.utils import register_all_modules
from tests.tiny_components import TINY_TIMESFORMER


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


class Embedder(nn.Module):
    """Declares its position embedding undecayed, as timm models do."""

    def __init__(self):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, 3, 4))
        self.proj = nn.Linear(4, 4)

    def no_weight_decay(self) -> set:
        return {'pos_embed'}


class EmbedNet(nn.Module):
    """An ``Embedder`` inside, and a ``pos_embed`` of its own that nobody
    excludes from decay."""

    def __init__(self):
        super().__init__()
        self.encoder = Embedder()
        self.pos_embed = nn.Parameter(torch.zeros(1, 3, 4))


def build(model, **wrapper):
    cfg = dict(
        type='SyncFreeOptimWrapper',
        constructor='DecayGroupsOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=0.1, weight_decay=0.5, fused=True),
        **wrapper)
    with DefaultScope.overwrite_default_scope('alpro'):
        return build_optim_wrapper(model, cfg)


def tiny_timesformer() -> nn.Module:
    register_all_modules()
    with DefaultScope.overwrite_default_scope('alpro'):
        return BACKBONES.build(TINY_TIMESFORMER)


def groups_by_name(model, wrapper) -> dict:
    """{parameter name: (group index, lr, weight_decay)}"""
    index = {
        id(p): (i, group['lr'], group['weight_decay'])
        for i, group in enumerate(wrapper.optimizer.param_groups)
        for p in group['params']
    }
    return {
        name: index[id(p)]
        for name, p in model.named_parameters() if id(p) in index
    }


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


def test_no_weight_decay_of_a_submodule_is_honoured():
    model = EmbedNet()
    groups = groups_by_name(model, build(model))
    # the names are the submodule's: encoder.pos_embed, not pos_embed
    assert groups == {
        'encoder.pos_embed': (1, 0.1, 0.0),
        'encoder.proj.weight': (0, 0.1, 0.5),
        'encoder.proj.bias': (1, 0.1, 0.0),
        'pos_embed': (0, 0.1, 0.5),
    }


def test_timesformer_embeddings_are_not_decayed():
    backbone = tiny_timesformer()
    model = nn.ModuleDict(dict(backbone=backbone, head=nn.Linear(4, 2)))
    wrapper = build(model)
    assert len(wrapper.optimizer.param_groups) == 2
    decay, no_decay = wrapper.optimizer.param_groups
    names = {id(p): name for name, p in model.named_parameters()}
    undecayed = {names[id(p)] for p in no_decay['params']}
    for name in ('time_embed', 'pos_embed', 'cls_token'):
        assert getattr(backbone, name).ndim == 3
        assert f'backbone.{name}' in undecayed
    assert {names[id(p)]
            for p in decay['params']} == {
                name
                for name, p in model.named_parameters()
                if p.ndim > 1 and name not in undecayed
            }
    assert no_decay['weight_decay'] == 0.0
    assert decay['weight_decay'] == 0.5


def test_custom_keys_give_lr_and_decay_multipliers():
    model = EmbedNet()
    wrapper = build(
        model,
        paramwise_cfg=dict(
            custom_keys={'proj': dict(lr_mult=10., decay_mult=0.5)}))
    groups = groups_by_name(model, wrapper)
    # one group per (lr, weight decay): the key's bias keeps no decay
    assert groups == {
        'encoder.pos_embed': (1, 0.1, 0.0),
        'encoder.proj.weight': (2, 1.0, 0.25),
        'encoder.proj.bias': (3, 1.0, 0.0),
        'pos_embed': (0, 0.1, 0.5),
    }
    assert len(wrapper.optimizer.param_groups) == 4


def test_custom_key_of_undecayed_parameters_adds_one_group():
    backbone = tiny_timesformer()
    wrapper = build(
        backbone,
        paramwise_cfg=dict(
            custom_keys={'time_embed': dict(lr_mult=10., decay_mult=0.)}))
    decay, no_decay, time_embed = wrapper.optimizer.param_groups
    assert len(time_embed['params']) == 1
    assert time_embed['params'][0] is backbone.time_embed
    assert (time_embed['lr'], time_embed['weight_decay']) == (1.0, 0.0)
    assert any(p is backbone.pos_embed for p in no_decay['params'])
    assert len(decay['params']) + len(no_decay['params']) + 1 == len(
        list(backbone.parameters()))

    # parameters whose settings equal a group's join it
    wrapper = build(
        backbone,
        paramwise_cfg=dict(custom_keys={'blocks.0.': dict(decay_mult=0.)}))
    decay, no_decay = wrapper.optimizer.param_groups
    assert any(p is backbone.blocks[0].attn.qkv.weight
               for p in no_decay['params'])
    assert any(p is backbone.blocks[1].attn.qkv.weight
               for p in decay['params'])


def test_custom_keys_match_as_mmengine_does():
    """The longest key wins, and the alphabetically first of equal
    length."""
    custom_keys = {
        'proj.weight': dict(lr_mult=3.),
        'coder': dict(lr_mult=2.),
        'embed': dict(lr_mult=5.),
    }
    model = EmbedNet()

    def lrs(wrapper) -> dict:
        groups = groups_by_name(model, wrapper)
        return {name: lr for name, (_, lr, _) in groups.items()}

    ours = lrs(build(model, paramwise_cfg=dict(custom_keys=custom_keys)))
    assert ours == pytest.approx({
        'encoder.proj.weight': 0.3,
        'encoder.proj.bias': 0.2,
        'encoder.pos_embed': 0.2,  # 'coder' and 'embed' match; 'coder' rules
        'pos_embed': 0.5,
    })
    mmengine = DefaultOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=0.1, weight_decay=0.5)),
        paramwise_cfg=dict(custom_keys=custom_keys))
    assert ours == lrs(mmengine(model))


def test_one_log_line_per_group():
    model = EmbedNet()
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'info') as info:
        build(
            model,
            paramwise_cfg=dict(custom_keys={'proj.w': dict(lr_mult=10.)}))
    lines = [call.args[0] for call in info.call_args_list]
    assert lines == [
        'param group 0: 1 tensors, 12 parameters, lr 0.1, weight_decay 0.5',
        'param group 1: 2 tensors, 16 parameters, lr 0.1, weight_decay 0',
        'param group 2: 1 tensors, 16 parameters, lr 1, weight_decay 0.5, '
        "custom keys ['proj.w']",
    ]


@pytest.mark.parametrize(
    'paramwise_cfg, match',
    [(dict(norm_decay_mult=0.), r"\['norm_decay_mult'\] not supported; "
      r"supported: \['custom_keys'\]"),
     (dict(custom_keys={'proj': dict(momentum=0.5)}),
      r"custom_keys\['proj'\].*'lr_mult', 'decay_mult'"),
     (dict(custom_keys=['proj']), 'must be a dict')])
def test_unsupported_paramwise_cfg_is_refused(paramwise_cfg, match):
    with pytest.raises(ValueError, match=match):
        build(Net(), paramwise_cfg=paramwise_cfg)


def test_multiplier_without_its_base_is_refused():
    with pytest.raises(ValueError, match='set optim_wrapper.optimizer.lr'):
        DecayGroupsOptimWrapperConstructor(
            dict(optimizer=dict(type='SGD')),
            paramwise_cfg=dict(custom_keys={'proj': dict(lr_mult=2.)}))


def test_custom_key_that_matches_nothing_is_an_error():
    unmatched = r"\['projj'\] match\(es\) no trainable parameter name of"
    with pytest.raises(ValueError, match=unmatched + ' EmbedNet'):
        build(
            EmbedNet(),
            paramwise_cfg=dict(custom_keys={
                'projj': dict(lr_mult=2.),
                'proj': dict(lr_mult=2.)
            }))
    with pytest.raises(ValueError, match=r"\['frozen'\] only frozen ones"):
        build(Net(), paramwise_cfg=dict(custom_keys={'frozen': {}}))
    overruled = r"\['proj'\] only match\(es\) names that longer"
    with pytest.raises(ValueError, match=overruled):
        build(
            EmbedNet(),
            paramwise_cfg=dict(custom_keys={
                'proj': dict(lr_mult=2.),
                'encoder.proj': dict(lr_mult=3.)
            }))


class HostReads(TorchFunctionMode):
    """Counts the device-to-host reads of tensors."""

    READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__}

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in self.READS
        return func(*args, **(kwargs or {}))


def grads_norm(model) -> float:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return float(torch.cat([g.flatten() for g in grads]).norm())


def test_clips_and_logs_the_norm_of_every_step():
    hub = MessageHub.get_instance('sync_free_test')
    model = Net()
    wrapper = build(model, clip_grad=dict(max_norm=0.01))
    wrapper.message_hub = hub
    norms = []
    for _ in range(3):
        wrapper.backward(model(torch.randn(8, 4)).pow(2).mean() * 100)
        norms.append(grads_norm(model))
        wrapper.step()
        assert grads_norm(model) <= 0.01 + 1e-6  # clipped
        wrapper.zero_grad()
    # no SyncFreeRuntimeInfoHook: read at once, one value per step
    values, _ = hub.log_scalars['train/grad_norm'].data
    torch.testing.assert_close(
        torch.as_tensor(values),
        torch.tensor(norms, dtype=torch.float64),
        rtol=1e-5,
        atol=0)


def test_the_norm_waits_on_the_device_for_the_hook():
    hub = MessageHub.get_instance('sync_free_hook_test')
    hub.update_info(DEVICE_SCALARS, {}, resumed=False)  # as the hook does
    model = Net()
    wrapper = build(model, clip_grad=dict(max_norm=0.01))
    wrapper.message_hub = hub
    wrapper.backward(model(torch.randn(8, 4)).pow(2).mean() * 100)
    norm = grads_norm(model)
    reads = HostReads()
    with reads:
        wrapper.step()
    assert reads.count == 0
    assert 'train/grad_norm' not in hub.log_scalars
    pending = hub.get_info(DEVICE_SCALARS)['grad_norm']
    assert torch.is_tensor(pending)
    assert float(pending) == pytest.approx(norm)
