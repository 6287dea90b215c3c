"""Data transforms, one concept per file: loading (decord), frame sampling,
images as clips, processing, RandAugment, formatting.

Frames travel as a uint8 RGB tensor ``results['imgs']`` of shape
``(T, C, H, W)`` from decoding on. Transforms that draw random numbers
derive from :class:`RandomTransform`.
"""
from .formatting import PackVideoTextInputs
from .load_image import LoadImageAsClip
from .loading import DecordDecode, DecordInit
from .processing import CenterCrop, Flip, RandomCrop, RandomResizedCrop, Resize
from .rand_augment import ALPRO_RANDAUG_OPS, TemporalConsistentRandAugment
from .random_transform import RandomTransform
from .sample_frames import SampleFrames

__all__ = [
    'DecordInit', 'SampleFrames', 'DecordDecode', 'LoadImageAsClip', 'Resize',
    'RandomCrop', 'CenterCrop', 'RandomResizedCrop', 'Flip',
    'TemporalConsistentRandAugment', 'ALPRO_RANDAUG_OPS',
    'PackVideoTextInputs', 'RandomTransform'
]
