"""Registries: lazy locations import, building under each default scope."""
import importlib

import pytest
import torch
from mmengine.registry import DefaultScope

from alpro.registry import (ALL_REGISTRIES, BACKBONES, DATASETS, HOOKS, MODELS,
                            TRANSFORMS)

MMENGINE_CHILDREN = ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS',
                     'VISBACKENDS', 'MODEL_WRAPPERS', 'LOOPS',
                     'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS')
ROOTS = ('BACKBONES', 'TEXT_ENCODERS', 'HEADS', 'LOSSES', 'PROMPTERS')


def test_registry_kinds():
    assert set(ALL_REGISTRIES) == set(MMENGINE_CHILDREN) | set(ROOTS)
    for name in MMENGINE_CHILDREN:
        registry = ALL_REGISTRIES[name]
        assert registry.scope == 'alpro'
        assert registry.parent is not None
        assert registry.parent.scope == 'mmengine'
    for name in ROOTS:
        assert ALL_REGISTRIES[name].scope == 'alpro'
        assert ALL_REGISTRIES[name].parent is None


@pytest.mark.parametrize('name', list(ALL_REGISTRIES))
def test_locations_import(name):
    locations = ALL_REGISTRIES[name]._locations
    assert locations, f'{name} has no lazy locations'
    for location in locations:
        importlib.import_module(location)


def build_under(scope, registry, cfg):
    if scope is None:
        return registry.build(cfg)
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


@pytest.fixture
def probe_components():
    """Register a small class in every registry that has no alpro-owned
    component yet, and remove it afterwards."""

    class Probe(torch.nn.Module):

        def __init__(self, width: int = 2):
            super().__init__()
            self.width = width

    added = []
    for name, registry in ALL_REGISTRIES.items():
        if 'AlproProbe' not in registry.module_dict:
            registry.register_module('AlproProbe', module=Probe)
            added.append(registry)
    yield Probe
    for registry in added:
        registry._module_dict.pop('AlproProbe')


def real_cfgs(tmp_path, tokenizer_dir):
    csv = tmp_path / 'ann.csv'
    csv.write_text('videoid,contentUrl,duration,page_dir,name\n'
                   '1,u,PT00H00M01S,p,a red circle\n')
    return {
        'MODELS':
        dict(
            type='VideoTextDataPreprocessor',
            tokenizer=dict(path=str(tokenizer_dir))),
        'DATASETS':
        dict(
            type='WebVidDataset',
            ann_file=str(csv),
            data_prefix=dict(video=str(tmp_path))),
        'TRANSFORMS':
        dict(type='SampleFrames', num_frames=4),
        'HOOKS':
        dict(type='BadSampleHook', max_bad_ratio=0.5),
        'OPTIM_WRAPPERS':
        dict(
            type='SyncFreeOptimWrapper',
            optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                      lr=0.1)),
        'OPTIM_WRAPPER_CONSTRUCTORS':
        dict(
            type='DecayGroupsOptimWrapperConstructor',
            optim_wrapper_cfg=dict(optimizer=dict(type='SGD', lr=0.1))),
    }


@pytest.mark.parametrize('scope', ['alpro', 'mmengine', None])
@pytest.mark.parametrize('name', list(ALL_REGISTRIES))
def test_build_each_kind_under_each_scope(name, scope, tmp_path, tokenizer_dir,
                                          probe_components):
    registry = ALL_REGISTRIES[name]
    cfg = real_cfgs(tmp_path,
                    tokenizer_dir).get(name, dict(type='AlproProbe', width=3))
    type_name = cfg['type']
    if scope == 'mmengine' and name in MMENGINE_CHILDREN:
        # MMEngine searches its own root under its scope: a plain alpro name
        # is unknown there, the scoped name is found.
        with pytest.raises(KeyError, match='not in the mmengine::'):
            build_under(scope, registry, cfg)
        cfg = dict(cfg, type=f'alpro.{type_name}')
    obj = build_under(scope, registry, cfg)
    assert type(obj).__name__ == ('Probe'
                                  if type_name == 'AlproProbe' else type_name)


def test_external_class_by_dotted_path():
    loss = BACKBONES.build(dict(type='torch.nn.Identity'))
    assert isinstance(loss, torch.nn.Identity)
    hook = HOOKS.build(dict(type='mmengine.hooks.EMAHook'))
    assert type(hook).__name__ == 'EMAHook'


def test_unknown_component_error_names_the_registry():
    with pytest.raises(KeyError, match='not in the alpro::backbone registry'):
        BACKBONES.build(dict(type='NoSuchBackbone'))
    with pytest.raises(KeyError, match='not in the alpro::transform'):
        TRANSFORMS.build(dict(type='NoSuchTransform'))


def test_mmengine_parents_are_reachable_from_children():
    # a Runner built under scope alpro finds MMEngine's own components
    with DefaultScope.overwrite_default_scope('alpro'):
        assert HOOKS.get('CheckpointHook').__module__.startswith('mmengine')
        assert DATASETS.get('ConcatDataset') is not None
        assert MODELS.get('VideoTextDataPreprocessor') is not None
