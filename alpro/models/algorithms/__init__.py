"""Algorithms (``alpro.registry.MODELS``): the models a config names."""
from .alpro_pretrainer import AlproPretrainer
from .alpro_retrieval import AlproRetrieval
from .alpro_video_qa import AlproVideoQA
from .prompter_pretrainer import PrompterPretrainer
from .video_text_encoders import VideoTextEncoders

__all__ = [
    'AlproPretrainer', 'AlproRetrieval', 'AlproVideoQA', 'PrompterPretrainer',
    'VideoTextEncoders'
]
