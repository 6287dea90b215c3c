"""Hooks (``alpro.registry.HOOKS``)."""
from .bad_sample_hook import BadSampleHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['BadSampleHook', 'SafeCheckpointHook']
