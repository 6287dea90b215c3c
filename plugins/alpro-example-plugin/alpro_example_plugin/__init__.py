"""An example alpro plugin: a transform, a dataset and a video backbone."""
from .conv3d_transformer import Conv3dTransformer
from .jsonl_video_text_dataset import JsonlVideoTextDataset
from .prompt_templates import ShortVideoTemplates
from .temporal_reverse import TemporalReverse

__all__ = [
    'Conv3dTransformer', 'JsonlVideoTextDataset', 'ShortVideoTemplates',
    'TemporalReverse'
]
__version__ = '0.1.0'
