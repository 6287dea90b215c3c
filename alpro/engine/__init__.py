"""Training-time machinery: hooks and model wrappers."""
from .hooks import BadSampleHook, SafeCheckpointHook
from .model_wrappers import AlproDistributedDataParallel

__all__ = [
    'AlproDistributedDataParallel', 'BadSampleHook', 'SafeCheckpointHook'
]
