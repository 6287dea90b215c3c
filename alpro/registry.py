"""Every registry of alpro, in one place.

Two kinds (see ``DESIGN.md``):

* children of MMEngine's roots, because the Runner and MMEngine's
  ``BaseDataset`` build through those: ``MODELS``, ``DATASETS``,
  ``TRANSFORMS``, ``METRICS``, ``HOOKS``, ``VISBACKENDS``, ``MODEL_WRAPPERS``,
  ``LOOPS``, ``OPTIM_WRAPPERS``, ``OPTIM_WRAPPER_CONSTRUCTORS``;
* parentless roots with scope ``alpro``, one per component kind that an
  algorithm builds itself: ``BACKBONES``, ``TEXT_ENCODERS``, ``HEADS``,
  ``LOSSES``, ``PROMPTERS``. MMEngine 0.10.7 allows one child per scope under
  a parent, so these cannot also be children of ``MODELS``.

Every registry imports its ``locations`` lazily, on the first ``get`` or
``build``.
"""
from mmengine import registry as mmengine_registry
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import Registry, build_model_from_cfg

__all__ = [
    'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'VISBACKENDS',
    'MODEL_WRAPPERS', 'LOOPS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'BACKBONES', 'TEXT_ENCODERS', 'HEADS', 'LOSSES', 'PROMPTERS',
    'ALL_REGISTRIES'
]

SCOPE = 'alpro'

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['alpro.models'])
DATASETS = Registry(
    'dataset',
    parent=MMENGINE_DATASETS,
    scope=SCOPE,
    locations=['alpro.datasets'])
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope=SCOPE,
    locations=['alpro.datasets.transforms'])
METRICS = Registry(
    'metric',
    parent=MMENGINE_METRICS,
    scope=SCOPE,
    locations=['alpro.evaluation'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['alpro.engine'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMENGINE_VISBACKENDS,
    scope=SCOPE,
    locations=['alpro.engine'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    scope=SCOPE,
    locations=['alpro.engine'])
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['alpro.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    scope=SCOPE,
    locations=['alpro.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE,
    locations=['alpro.engine'])

BACKBONES = Registry(
    'backbone',
    build_func=build_model_from_cfg,
    scope=SCOPE,
    locations=['alpro.models.backbones'])
TEXT_ENCODERS = Registry(
    'text_encoder',
    build_func=build_model_from_cfg,
    scope=SCOPE,
    locations=['alpro.models.text_encoders'])
HEADS = Registry(
    'head',
    build_func=build_model_from_cfg,
    scope=SCOPE,
    locations=['alpro.models.heads'])
LOSSES = Registry(
    'loss',
    build_func=build_model_from_cfg,
    scope=SCOPE,
    locations=['alpro.models.losses'])
PROMPTERS = Registry(
    'prompter',
    build_func=build_model_from_cfg,
    scope=SCOPE,
    locations=['alpro.models.prompters'])

# Pass-through children of the MMEngine roots the Runner builds from but
# alpro adds nothing to: with ``default_scope='alpro'`` MMEngine looks for an
# alpro node in every registry tree and, finding none, warns that building
# "may cause unexpected failure". An empty child makes it fall back to the
# parent quietly. They hold no component of alpro's, so they are not listed.
_PASS_THROUGH = {
    name:
    Registry(
        getattr(mmengine_registry, name).name,
        parent=getattr(mmengine_registry, name),
        scope=SCOPE)
    for name in ('RUNNERS', 'RUNNER_CONSTRUCTORS', 'DATA_SAMPLERS',
                 'OPTIMIZERS', 'PARAM_SCHEDULERS', 'VISUALIZERS',
                 'LOG_PROCESSORS', 'EVALUATOR', 'FUNCTIONS',
                 'WEIGHT_INITIALIZERS')
}

#: name -> registry, in the order ``tools/misc/print_registry.py`` lists them.
ALL_REGISTRIES = {
    'MODELS': MODELS,
    'DATASETS': DATASETS,
    'TRANSFORMS': TRANSFORMS,
    'METRICS': METRICS,
    'HOOKS': HOOKS,
    'VISBACKENDS': VISBACKENDS,
    'MODEL_WRAPPERS': MODEL_WRAPPERS,
    'LOOPS': LOOPS,
    'OPTIM_WRAPPERS': OPTIM_WRAPPERS,
    'OPTIM_WRAPPER_CONSTRUCTORS': OPTIM_WRAPPER_CONSTRUCTORS,
    'BACKBONES': BACKBONES,
    'TEXT_ENCODERS': TEXT_ENCODERS,
    'HEADS': HEADS,
    'LOSSES': LOSSES,
    'PROMPTERS': PROMPTERS,
}
