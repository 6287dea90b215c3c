"""Algorithms (``alpro.registry.MODELS``): the models a config names."""
from .alpro_pretrainer import AlproPretrainer
from .alpro_retrieval import AlproRetrieval
from .alpro_video_qa import AlproVideoQA
from .base_video_text_model import BaseVideoTextModel
from .prompter_pretrainer import PrompterPretrainer

__all__ = [
    'AlproPretrainer', 'AlproRetrieval', 'AlproVideoQA', 'BaseVideoTextModel',
    'PrompterPretrainer'
]
