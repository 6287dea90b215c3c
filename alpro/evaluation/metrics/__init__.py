"""Metrics (``alpro.registry.METRICS``)."""
from .base_video_text_metric import BaseVideoTextMetric
from .retrieval_metric import RetrievalMetric, retrieval_metrics
from .video_qa_metric import VideoQAMetric

__all__ = [
    'BaseVideoTextMetric', 'RetrievalMetric', 'retrieval_metrics',
    'VideoQAMetric'
]
