"""Evaluation: metrics."""
from .metrics import BaseVideoTextMetric

__all__ = ['BaseVideoTextMetric']
