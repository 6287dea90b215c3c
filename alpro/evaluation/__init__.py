"""Evaluation: metrics."""
from .metrics import (BaseVideoTextMetric, RetrievalMetric, VideoQAMetric,
                      retrieval_metrics)

__all__ = [
    'BaseVideoTextMetric', 'RetrievalMetric', 'retrieval_metrics',
    'VideoQAMetric'
]
