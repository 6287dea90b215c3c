"""Registered heads (`alpro.registry.HEADS`): each owns its task's loss."""
from .mlm_head import MLMHead
from .pem_head import PEMHead
from .qa_head import QAHead
from .vtc_head import VTCHead
from .vtm_head import VTMHead

__all__ = ['MLMHead', 'PEMHead', 'QAHead', 'VTCHead', 'VTMHead']
