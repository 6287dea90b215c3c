"""Use a trained model: build it (:func:`init_model`) and run inference."""
from .model import CheckpointMismatchError, init_model
from .text_to_video import TextToVideoRetrievalInferencer
from .video_qa import VideoQAInferencer
from .video_to_text import VideoToTextRetrievalInferencer

__all__ = [
    'CheckpointMismatchError', 'init_model', 'TextToVideoRetrievalInferencer',
    'VideoToTextRetrievalInferencer', 'VideoQAInferencer'
]
