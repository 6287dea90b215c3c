"""The tiny real components the model tests assemble: a TimeSformer on
32 px clips of 2 frames, BERT layers 32 wide, the data preprocessor over
the tests' tokenizer (tests/conftest.py), and a batch for them."""
from typing import Sequence

import torch

from alpro.structures import VideoTextDataSample

#: TimeSformer ``tiny``, 32 px frames, 8 px patches, 2 frames
TINY_TIMESFORMER = dict(
    type='TimeSformer',
    arch='tiny',
    img_size=32,
    patch_size=8,
    num_frames=2,
    drop_path_rate=0.0)


def tiny_text_encoder(num_layers: int = 4,
                      fusion_layer: int = 2,
                      dropout: float = 0.0,
                      text_only: bool = False,
                      **bert: float) -> dict:
    """A ``BertTextFusionEncoder`` config: BERT layers 32 wide, 2 heads,
    the tests' 64-word vocabulary; ``dropout`` for hidden states and
    attention; ``bert`` overrides more of the BERT config."""
    config = dict(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout)
    config.update(bert)
    return dict(
        type='BertTextFusionEncoder',
        config=config,
        fusion_layer=fusion_layer,
        text_only=text_only)


def tiny_preprocessor(tokenizer_dir,
                      type: str = 'VideoTextDataPreprocessor',
                      **kwargs) -> dict:
    """A data preprocessor over the tests' tokenizer, 8 tokens."""
    return dict(
        type=type,
        tokenizer=dict(path=str(tokenizer_dir)),
        max_length=8,
        **kwargs)


def tiny_batch(captions: Sequence[str], size: int, seed: int = 0) -> dict:
    """A batch as the dataloader gives it: ``size`` random uint8 clips
    ``(2, 3, 32, 32)`` and data samples ``video_id`` ``'0'``, ``'1'``, ...
    with the captions in turn."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(size):
        sample = VideoTextDataSample(metainfo=dict(video_id=str(i)))
        sample.text = captions[i % len(captions)]
        samples.append(sample)
    clips = [
        torch.randint(
            0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=generator)
        for _ in range(size)
    ]
    return dict(inputs=clips, data_samples=samples)
