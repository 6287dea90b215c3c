"""Data structures handed between the pipeline, the model and the metrics."""
from .video_text_data_sample import VideoTextDataSample

__all__ = ['VideoTextDataSample']
