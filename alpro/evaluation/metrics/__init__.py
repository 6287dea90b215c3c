"""Metrics (``alpro.registry.METRICS``)."""
from .base_video_text_metric import BaseVideoTextMetric

__all__ = ['BaseVideoTextMetric']
