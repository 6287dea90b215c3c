"""Registered text encoders (`alpro.registry.TEXT_ENCODERS`)."""
from .bert_text_fusion_encoder import BertTextFusionEncoder

__all__ = ['BertTextFusionEncoder']
