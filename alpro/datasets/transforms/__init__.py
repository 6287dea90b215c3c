"""Data transforms, split by stage: loading, processing, formatting.

Frames travel as a uint8 RGB tensor ``results['imgs']`` of shape
``(T, C, H, W)`` from decoding on. Transforms that draw random numbers
derive from :class:`RandomTransform`.
"""
from .formatting import PackVideoTextInputs
from .loading import DecordDecode, DecordInit, LoadImageAsClip, SampleFrames
from .processing import (ALPRO_RANDAUG_OPS, CenterCrop, Flip, RandomCrop,
                         RandomResizedCrop, Resize,
                         TemporalConsistentRandAugment)
from .random_transform import RandomTransform

__all__ = [
    'DecordInit', 'SampleFrames', 'DecordDecode', 'LoadImageAsClip', 'Resize',
    'RandomCrop', 'CenterCrop', 'RandomResizedCrop', 'Flip',
    'TemporalConsistentRandAugment', 'ALPRO_RANDAUG_OPS',
    'PackVideoTextInputs', 'RandomTransform'
]
