"""Samplers of the pairs a model's objectives compare."""
from .order_negatives import OrderNegatives
from .vtm_negative_sampler import VTMNegativeSampler

__all__ = ['VTMNegativeSampler', 'OrderNegatives']
