"""An example alpro plugin: a transform, a dataset, a video backbone,
prompt templates, a contrastive head with its own loss, a text encoder and
a downstream task."""
from .conv3d_transformer import Conv3dTransformer
from .jsonl_video_text_dataset import JsonlVideoTextDataset
from .prompt_templates import ShortVideoTemplates
from .prompt_video_classifier import PromptVideoClassifier
from .sigmoid_vtc_head import SigmoidVTCHead
from .temporal_reverse import TemporalReverse
from .transformer_text_encoder import TransformerTextFusionEncoder

__all__ = [
    'Conv3dTransformer', 'JsonlVideoTextDataset', 'PromptVideoClassifier',
    'ShortVideoTemplates', 'SigmoidVTCHead', 'TemporalReverse',
    'TransformerTextFusionEncoder'
]
__version__ = '0.1.0'
