"""Training-time machinery: hooks, model wrappers, optimiser wrappers."""
from .hooks import (BadSampleHook, PromptCacheHook, SafeCheckpointHook,
                    TrainVisualizationHook)
from .model_wrappers import AlproDistributedDataParallel
from .optimizers import (DecayGroupsOptimWrapperConstructor,
                         SyncFreeOptimWrapper)

__all__ = [
    'AlproDistributedDataParallel', 'BadSampleHook',
    'DecayGroupsOptimWrapperConstructor', 'PromptCacheHook',
    'SafeCheckpointHook', 'SyncFreeOptimWrapper', 'TrainVisualizationHook'
]
