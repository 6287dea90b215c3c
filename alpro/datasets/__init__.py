"""Datasets (``alpro.registry.DATASETS``) and their transforms."""
from . import transforms  # noqa: F401  (registers every transform)
from .base_video_text_dataset import AnnotationError, BaseVideoTextDataset
from .cc3m import CC3MDataset
from .didemo import DiDeMoRetrievalDataset
from .entity_vocab import load_entities
from .errors import BadSampleError
from .msrvtt import MSRVTTRetrievalDataset
from .video_qa import VideoQADataset
from .webvid import WebVidDataset

__all__ = [
    'AnnotationError', 'BadSampleError', 'BaseVideoTextDataset', 'CC3MDataset',
    'DiDeMoRetrievalDataset', 'MSRVTTRetrievalDataset', 'VideoQADataset',
    'WebVidDataset', 'load_entities'
]
