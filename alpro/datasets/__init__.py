"""Datasets (``alpro.registry.DATASETS``), their transforms and samplers."""
from . import transforms  # noqa: F401  (registers every transform)
from .base_video_text_dataset import BaseVideoTextDataset
from .cc3m import CC3MDataset
from .didemo import DiDeMoRetrievalDataset
from .entity_vocab import load_entities
from .errors import AnnotationError, BadRowError, BadSampleError, SkipRow
from .msrvtt import MSRVTTRetrievalDataset
from .restricted_unpickler import load_dataframe
from .row_policy import RowReport, parse_rows
from .sample_seed import SampleSeed
from .samplers import SeededSampler
from .shard_reader import ShardOpenError, ShardReport
from .video_qa import VideoQADataset
from .video_text_shard_dataset import VideoTextShardDataset
from .video_text_shard_mix import VideoTextShardMix
from .webvid import WebVidDataset

__all__ = [
    'AnnotationError', 'BadRowError', 'BadSampleError', 'BaseVideoTextDataset',
    'CC3MDataset', 'DiDeMoRetrievalDataset', 'MSRVTTRetrievalDataset',
    'RowReport', 'SampleSeed', 'SeededSampler', 'ShardOpenError',
    'ShardReport', 'SkipRow', 'VideoQADataset', 'VideoTextShardDataset',
    'VideoTextShardMix', 'WebVidDataset', 'load_dataframe', 'load_entities',
    'parse_rows'
]
