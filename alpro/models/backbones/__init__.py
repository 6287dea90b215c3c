"""Registered backbones (`alpro.registry.BACKBONES`) and the contract every
video backbone follows (:mod:`alpro.models.backbones.contract`)."""
from .contract import VIDEO_BACKBONE_ATTRIBUTES, check_video_backbone
from .frame_vit import FrameViT
from .timesformer import TimeSformer, vit_to_timesformer

__all__ = [
    'FrameViT', 'TimeSformer', 'VIDEO_BACKBONE_ATTRIBUTES',
    'check_video_backbone', 'vit_to_timesformer'
]
