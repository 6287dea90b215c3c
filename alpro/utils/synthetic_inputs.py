"""Random weights and random batches of a config's shapes, for FLOP counts
and speed benchmarks, which need no checkpoint, tokenizer or data on disk.
"""
import copy
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from alpro.registry import MODELS
from alpro.structures import VideoTextDataSample
from .setup_env import register_all_modules

__all__ = [
    'BERT_BASE_UNCASED', 'build_random_model', 'clip_shape', 'named_words',
    'num_words', 'offline_model_cfg', 'synthetic_batch',
    'write_synthetic_assets'
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


def num_words(cfg: Config) -> int:
    """How many made-up words the text encoder of ``cfg`` can embed (at
    most 2000, the 5 special tokens aside)."""
    config = cfg.model.text_encoder.get('config') or BERT_BASE_UNCASED
    return min(2000, config.get('vocab_size', 30522) - 5)


def named_words(node) -> List[str]:
    """The words a model config names for its tokenizer to know: those of
    every ``order_negatives`` (``words`` and ``swap_words``), in order."""
    found: List[str] = []
    if isinstance(node, dict):
        order = node.get('order_negatives')
        if isinstance(order, dict):
            found += list(order.get('words') or [])
            pairs = order.get('swap_words') or []
            found += [word for pair in pairs for word in pair]
        for value in node.values():
            found += named_words(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            found += named_words(value)
    return list(dict.fromkeys(found))


def write_synthetic_assets(folder: str,
                           cfg: Config,
                           num_entities: int = 1000) -> Tuple[str, str]:
    """A real fast tokenizer over made-up words (``w0``, ``w1``, ...) that
    ``cfg``'s text encoder can embed, and an entity file of the first
    ``num_entities`` of them (fewer if there are fewer words). The words
    the config names (:func:`named_words`, e.g. the direction words of the
    order-aware objective) take the place of as many made-up ones.

    Returns:
        ``(tokenizer_dir, entity_file)``.
    """
    from transformers import BertTokenizerFast
    folder = Path(folder)
    named = named_words(cfg.model)
    words = [f'w{i}' for i in range(num_words(cfg) - len(named))]
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *named, *words]
    tokenizer_dir = folder / 'tokenizer'
    BertTokenizerFast(vocab={
        w: i
        for i, w in enumerate(vocab)
    }).save_pretrained(tokenizer_dir)
    entity_file = folder / 'entities.txt'
    entity_file.write_text('\n'.join(words[:num_entities]) + '\n')
    return str(tokenizer_dir), str(entity_file)


def offline_model_cfg(cfg: Config, tokenizer_dir: str,
                      entity_file: str) -> ConfigDict:
    """A copy of ``cfg.model`` that builds from no file of the config's:
    random weights (no ``pretrained``, prompter ``checkpoint`` or
    ``Pretrained`` init_cfg),
    BERT-base's architecture where only a BERT folder was named, and the
    synthetic tokenizer and entity file of :func:`write_synthetic_assets`,
    at every depth (the entity prompter nests a whole stage-1 model)."""

    def strip(node):
        if isinstance(node, dict):
            if node.get('pretrained'):
                if 'Bert' in str(node.get('type')) and not node.get('config'):
                    node['config'] = dict(BERT_BASE_UNCASED)
                node['pretrained'] = None
            if 'checkpoint' in node and 'Prompter' in str(node.get('type')):
                node['checkpoint'] = None
            init_cfg = node.get('init_cfg')
            if isinstance(init_cfg,
                          dict) and init_cfg.get('type') == 'Pretrained':
                node.pop('init_cfg')
            if 'entity_file' in node:
                node['entity_file'] = entity_file
            if isinstance(node.get('tokenizer'), dict):
                node['tokenizer']['path'] = tokenizer_dir
            for value in node.values():
                strip(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                strip(value)
        return node

    return strip(copy.deepcopy(cfg.model))


def build_random_model(
        cfg: Config,
        device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """The config's model with random weights, built from no file of the
    config's (:func:`offline_model_cfg` over the assets of
    :func:`write_synthetic_assets`, which are deleted after), initialised,
    moved to ``device`` and there its entity prompter's cache built; in
    train mode. Seed torch first for the same weights."""
    register_all_modules()
    with tempfile.TemporaryDirectory() as folder:
        with DefaultScope.overwrite_default_scope('alpro'):
            model = MODELS.build(
                offline_model_cfg(cfg, *write_synthetic_assets(folder, cfg)))
        model.init_weights()
        model.to(device)
        for module in model.modules():
            if hasattr(module, 'build_cache'):
                module.build_cache()  # the entity prompter's prompts
    return model.train()


def clip_shape(cfg: Config) -> Tuple[int, int, int]:
    """``(T, H, W)`` of the clips a config's model is built for."""
    backbone = cfg.model.backbone
    size = backbone.get('img_size', 224)
    height, width = (size, size) if isinstance(size, int) else size
    return backbone.get('num_frames', 4), height, width


def synthetic_batch(cfg: Config,
                    batch_size: int,
                    seed: int = 0) -> Dict[str, List]:
    """A batch as the dataloader hands it over: uint8 clips ``(T, C, H, W)``
    and data samples whose captions fill the preprocessor's ``max_length``
    (ALPRO pads to a fixed length)."""
    frames, height, width = clip_shape(cfg)
    length = cfg.model.data_preprocessor.get('max_length', 40)
    generator = torch.Generator().manual_seed(seed)
    clips, samples = [], []
    for i in range(batch_size):
        clips.append(
            torch.randint(
                0,
                256, (frames, 3, height, width),
                dtype=torch.uint8,
                generator=generator))
        words = torch.randint(
            0, num_words(cfg), (length - 2, ), generator=generator)
        sample = VideoTextDataSample(metainfo=dict(video_id=str(i)))
        sample.text = ' '.join(f'w{w}' for w in words.tolist())
        samples.append(sample)
    return dict(inputs=clips, data_samples=samples)
