"""Registered backbones (`alpro.registry.BACKBONES`)."""
from .frame_vit import FrameViT
from .timesformer import TimeSformer, vit_to_timesformer

__all__ = ['FrameViT', 'TimeSformer', 'vit_to_timesformer']
