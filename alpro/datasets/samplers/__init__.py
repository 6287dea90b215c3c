"""Data samplers (registered in MMEngine's ``DATA_SAMPLERS``)."""
from .seeded_sampler import SeededSampler

__all__ = ['SeededSampler']
