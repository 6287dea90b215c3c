"""Random weights and random batches of a config's shapes, for FLOP counts
and speed benchmarks, which need no checkpoint, tokenizer or data on disk.
"""
import copy
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Tuple, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from alpro.models.data_preprocessors.tokenizer import LazyTokenizer
from alpro.registry import MODELS
from alpro.structures import VideoTextDataSample
from .random_weights import init_random_weights
from .setup_env import register_all_modules

__all__ = [
    'build_random_model', 'clip_shape', 'named_words', 'num_words',
    'offline_model_cfg', 'synthetic_batch', 'write_synthetic_assets'
]


def num_words(cfg: Config) -> int:
    """How many made-up words the text encoder of ``cfg`` can embed (at
    most 2000, the 5 special tokens aside)."""
    from alpro.models.text_encoders import BERT_ARCHS
    config = cfg.model.text_encoder.get('config') or 'bert-base-uncased'
    if isinstance(config, str):
        config = BERT_ARCHS[config]
    return min(2000, config.get('vocab_size', 30522) - 5)


def _dicts_of(node) -> Iterator[dict]:
    """Every dict in the nested dicts and lists of ``node``, outer first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts_of(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _dicts_of(value)


def _values_of(node, key: str) -> Iterator:
    """Every value of ``key`` in the nested dicts and lists of ``node``."""
    return (found[key] for found in _dicts_of(node) if key in found)


def named_words(node) -> List[str]:
    """The words a model config names for its tokenizer to know: those of
    every ``order_negatives`` (``words`` and ``swap_words``), in order."""
    found: List[str] = []
    for order in _values_of(node, 'order_negatives'):
        if isinstance(order, dict):
            found += list(order.get('words') or [])
            pairs = order.get('swap_words') or []
            found += [word for pair in pairs for word in pair]
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
    num_entities = max([num_entities, *_values_of(cfg.model, 'num_entities')])
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
    """A copy of ``cfg.model`` whose tokenizers (every ``tokenizer.path``)
    and entity files (every ``entity_file``), at any depth (the entity
    prompter nests a whole stage-1 model), are those of
    :func:`write_synthetic_assets`. Weights need no change: a model reads
    none when it is built, and :func:`build_random_model` initialises it
    without them."""
    model = copy.deepcopy(cfg.model)
    for node in _dicts_of(model):
        if 'entity_file' in node:
            node['entity_file'] = entity_file
        if isinstance(node.get('tokenizer'), dict):
            node['tokenizer']['path'] = tokenizer_dir
    return model


def build_random_model(
        cfg: Config,
        device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """The config's model with random weights, from no file of the
    config's: built over the assets of :func:`write_synthetic_assets`
    (:func:`offline_model_cfg`, deleted after), initialised without weight
    files (:func:`~alpro.utils.random_weights.init_random_weights`), moved
    to ``device`` and there its entity prompter's cache built; in train
    mode. Seed torch first for the same weights."""
    register_all_modules()
    with tempfile.TemporaryDirectory() as folder:
        with DefaultScope.overwrite_default_scope('alpro'):
            model = MODELS.build(
                offline_model_cfg(cfg, *write_synthetic_assets(folder, cfg)))
        init_random_weights(model)
        model.to(device)
        for module in model.modules():
            for value in vars(module).values():
                if isinstance(value, LazyTokenizer):
                    value.loaded  # read before the folder is deleted
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
