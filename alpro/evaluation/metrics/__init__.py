"""Metrics (``alpro.registry.METRICS``)."""
from .base_video_text_metric import BaseVideoTextMetric
from .retrieval_metric import RetrievalMetric, retrieval_metrics

__all__ = ['BaseVideoTextMetric', 'RetrievalMetric', 'retrieval_metrics']
