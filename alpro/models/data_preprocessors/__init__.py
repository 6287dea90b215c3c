"""Data preprocessors (``alpro.registry.MODELS``)."""
from .alpro_pretrain_data_preprocessor import AlproPretrainDataPreprocessor
from .video_text_data_preprocessor import (CLIP_MEAN, CLIP_STD,
                                           VideoTextDataPreprocessor,
                                           load_tokenizer)

__all__ = [
    'CLIP_MEAN', 'CLIP_STD', 'VideoTextDataPreprocessor', 'load_tokenizer',
    'AlproPretrainDataPreprocessor'
]
