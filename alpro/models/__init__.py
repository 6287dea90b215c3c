"""Models: algorithms, their parts, and data preprocessors."""
from . import (algorithms, backbones, data_preprocessors, heads, losses,
               prompters, samplers, text_encoders)

__all__ = [
    'algorithms', 'backbones', 'data_preprocessors', 'heads', 'losses',
    'prompters', 'samplers', 'text_encoders'
]
