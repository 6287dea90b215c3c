"""An example alpro plugin: one transform and one dataset."""
from .jsonl_video_text_dataset import JsonlVideoTextDataset
from .temporal_reverse import TemporalReverse

__all__ = ['JsonlVideoTextDataset', 'TemporalReverse']
__version__ = '0.1.0'
