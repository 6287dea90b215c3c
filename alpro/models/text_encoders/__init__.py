"""Registered text encoders (`alpro.registry.TEXT_ENCODERS`) and the
contract they follow."""
from .bert_config import BERT_ARCHS
from .bert_text_fusion_encoder import BertTextFusionEncoder
from .contract import check_text_encoder

__all__ = ['BERT_ARCHS', 'BertTextFusionEncoder', 'check_text_encoder']
