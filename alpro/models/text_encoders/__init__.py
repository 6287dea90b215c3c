"""Registered text encoders (`alpro.registry.TEXT_ENCODERS`) and the
contract they follow."""
from .bert_text_fusion_encoder import BertTextFusionEncoder
from .contract import check_text_encoder

__all__ = ['BertTextFusionEncoder', 'check_text_encoder']
