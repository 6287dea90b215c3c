"""Registered heads (`alpro.registry.HEADS`)."""
from .mlm_head import MLMHead
from .pem_head import PEMHead
from .vtm_head import VTMHead

__all__ = ['MLMHead', 'PEMHead', 'VTMHead']
