"""Training-time machinery: hooks, model wrappers, optimiser wrappers."""
from .hooks import BadSampleHook, SafeCheckpointHook
from .model_wrappers import AlproDistributedDataParallel
from .optimizers import (DecayGroupsOptimWrapperConstructor,
                         SyncFreeOptimWrapper)

__all__ = [
    'AlproDistributedDataParallel', 'BadSampleHook',
    'DecayGroupsOptimWrapperConstructor', 'SafeCheckpointHook',
    'SyncFreeOptimWrapper'
]
