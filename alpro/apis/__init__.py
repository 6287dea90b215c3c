"""Use a trained model: build it (:func:`init_model`) and run inference."""
from .model import CheckpointMismatchError, init_model
from .text_to_video import TextToVideoRetrievalInferencer

__all__ = [
    'CheckpointMismatchError', 'init_model', 'TextToVideoRetrievalInferencer'
]
