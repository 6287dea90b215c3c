"""Random weights and inputs of a config's shapes, for FLOP counts and
speed benchmarks, which need no checkpoint, tokenizer or data on disk."""
import copy
from typing import Dict, Tuple

import torch
from mmengine.config import Config, ConfigDict

__all__ = [
    'BERT_BASE_UNCASED', 'clip_shape', 'random_weights_model_cfg',
    'synthetic_inputs'
]

#: bert-base-uncased's architecture (its config.json), for building it
#: without the folder.
BERT_BASE_UNCASED = dict(
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
    type_vocab_size=2)


def random_weights_model_cfg(cfg: Config) -> ConfigDict:
    """A copy of ``cfg.model`` that builds without files: no ``pretrained``
    weights, BERT-base's architecture where only a BERT folder was named,
    and MMEngine's plain data preprocessor (no tokenizer)."""
    model = copy.deepcopy(cfg.model)
    model.pop('data_preprocessor', None)
    for part in ('backbone', 'text_encoder'):
        if part in model and model[part].get('pretrained'):
            if part == 'text_encoder' and not model[part].get('config'):
                model[part]['config'] = dict(BERT_BASE_UNCASED)
            model[part]['pretrained'] = None
    return model


def clip_shape(cfg: Config) -> Tuple[int, int, int]:
    """``(T, H, W)`` of the clips a config's model is built for."""
    backbone = cfg.model.backbone
    size = backbone.get('img_size', 224)
    height, width = (size, size) if isinstance(size, int) else size
    return backbone.get('num_frames', 4), height, width


def synthetic_inputs(cfg: Config,
                     batch_size: int,
                     vocab_size: int,
                     device: str = 'cpu') -> Dict[str, torch.Tensor]:
    """What the data preprocessor would hand the model, at random.

    Returns:
        dict: ``video`` ``(B, 3, T, H, W)`` float, ``text_ids`` and
        ``text_mask`` ``(B, L)`` with ``L`` the preprocessor's
        ``max_length`` (padding 'max_length', as ALPRO pads).
    """
    frames, height, width = clip_shape(cfg)
    length = cfg.model.data_preprocessor.get('max_length', 40)
    generator = torch.Generator().manual_seed(0)
    video = torch.randn(
        batch_size, 3, frames, height, width, generator=generator)
    text_ids = torch.randint(
        1000 if vocab_size > 1000 else 5,
        vocab_size, (batch_size, length),
        generator=generator)
    return dict(
        video=video.to(device),
        text_ids=text_ids.to(device),
        text_mask=torch.ones_like(text_ids).to(device))
