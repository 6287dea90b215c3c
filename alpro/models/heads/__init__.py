"""Registered heads (`alpro.registry.HEADS`)."""
from .mlm_head import MLMHead
from .pem_head import PEMHead
from .qa_head import QAHead
from .vtm_head import VTMHead

__all__ = ['MLMHead', 'PEMHead', 'QAHead', 'VTMHead']
