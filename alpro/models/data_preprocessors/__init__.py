"""Data preprocessors (``alpro.registry.MODELS``)."""
from .alpro_pretrain_data_preprocessor import AlproPretrainDataPreprocessor
from .tokenizer import LazyTokenizer, load_tokenizer
from .video_text_data_preprocessor import (CLIP_MEAN, CLIP_STD,
                                           VideoTextDataPreprocessor)

__all__ = [
    'CLIP_MEAN', 'CLIP_STD', 'VideoTextDataPreprocessor', 'LazyTokenizer',
    'load_tokenizer', 'AlproPretrainDataPreprocessor'
]
