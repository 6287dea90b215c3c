"""Datasets (``alpro.registry.DATASETS``) and their transforms."""
from . import transforms  # noqa: F401  (registers every transform)
from .base_video_text_dataset import AnnotationError, BaseVideoTextDataset
from .cc3m import CC3MDataset
from .entity_vocab import load_entities
from .errors import BadSampleError
from .webvid import WebVidDataset

__all__ = [
    'AnnotationError', 'BadSampleError', 'BaseVideoTextDataset', 'CC3MDataset',
    'WebVidDataset', 'load_entities'
]
