"""Evaluation: metrics."""
from .metrics import BaseVideoTextMetric, RetrievalMetric, retrieval_metrics

__all__ = ['BaseVideoTextMetric', 'RetrievalMetric', 'retrieval_metrics']
