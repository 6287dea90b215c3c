"""Training-time machinery: hooks, model wrappers, optimiser wrappers."""
from .hooks import (BadSampleHook, PromptCacheHook, SafeCheckpointHook,
                    TrainVisualizationHook)
from .model_wrappers import AlproDistributedDataParallel
from .optimizers import (DecayGroupsOptimWrapperConstructor,
                         SyncFreeOptimWrapper)
from .runner import RetrievalTestLoop, RetrievalValLoop

__all__ = [
    'AlproDistributedDataParallel', 'BadSampleHook',
    'DecayGroupsOptimWrapperConstructor', 'RetrievalTestLoop',
    'RetrievalValLoop', 'PromptCacheHook', 'SafeCheckpointHook',
    'SyncFreeOptimWrapper', 'TrainVisualizationHook'
]
