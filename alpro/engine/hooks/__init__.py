"""Hooks (``alpro.registry.HOOKS``)."""
from .bad_sample_hook import BadSampleHook
from .compile_hook import CompileHook, compile_method
from .prompt_cache_hook import PromptCacheHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .shard_epoch_hook import ShardEpochHook
from .sync_free_runtime_info_hook import SyncFreeRuntimeInfoHook
from .train_visualization_hook import TrainVisualizationHook

__all__ = [
    'BadSampleHook', 'CompileHook', 'compile_method', 'PromptCacheHook',
    'SafeCheckpointHook', 'ShardEpochHook', 'SyncFreeRuntimeInfoHook',
    'TrainVisualizationHook'
]
