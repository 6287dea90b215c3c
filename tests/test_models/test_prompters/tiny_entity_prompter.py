"""Tiny stage-1 prompters, their checkpoints and entity files, shared by
the prompter and prompt-cache tests (imported, not collected)."""
from pathlib import Path
from typing import Optional, Sequence

import torch

from alpro.registry import MODELS, PROMPTERS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_preprocessor,
                                   tiny_text_encoder)

EMBED_DIM = 16
#: words of the test tokenizer's vocabulary (tests/conftest.py)
ENTITIES = ('circle', 'square', 'background', 'left', 'right', 'up')


def prompter_cfg(tokenizer_dir) -> dict:
    """A tiny PrompterPretrainer: TimeSformer 32 px / patch 8 / 2 frames
    and a 2-layer BERT, 16-d shared space. Its ``data_preprocessor`` is
    there on purpose: the EntityPrompter must drop it."""
    return dict(
        type='PrompterPretrainer',
        data_preprocessor=tiny_preprocessor(tokenizer_dir),
        backbone=dict(TINY_TIMESFORMER, drop_path_rate=0.1),
        text_encoder=tiny_text_encoder(
            num_layers=2, dropout=0.5, text_only=True),
        embed_dim=EMBED_DIM)


def write_entities(path: Path, names: Sequence[str] = ENTITIES) -> Path:
    """An entity vocabulary: one entity per line, its count after it."""
    path.write_text(''.join(f'{name} {100 - i}\n'
                            for i, name in enumerate(names)))
    return path


def save_stage1_checkpoint(path: Path, tokenizer_dir, seed: int = 1) -> dict:
    """Save a trained-looking stage-1 model as an MMEngine checkpoint.

    Returns:
        its state dict.
    """
    torch.manual_seed(seed)
    model = MODELS.build(prompter_cfg(tokenizer_dir))
    model.init_weights()
    with torch.no_grad():
        # values no random initialisation gives
        model.vision_proj.weight.fill_(0.0123)
        model.text_proj.bias.fill_(0.5)
    state = model.state_dict()
    torch.save({'state_dict': state, 'meta': {'epoch': 10}}, path)
    return state


def entity_prompter_cfg(tokenizer_dir, checkpoint: Optional[Path],
                        entity_file: Path, **kwargs) -> dict:
    """The config of an EntityPrompter over the tiny prompter and the
    :data:`ENTITIES` of ``entity_file``; ``kwargs`` override."""
    return dict(
        dict(
            type='EntityPrompter',
            prompter=prompter_cfg(tokenizer_dir),
            checkpoint=None if checkpoint is None else str(checkpoint),
            entity_file=str(entity_file),
            tokenizer=dict(path=str(tokenizer_dir)),
            num_entities=len(ENTITIES),
            max_length=8), **kwargs)


def build_entity_prompter(tokenizer_dir,
                          entity_file: Path,
                          checkpoint: Optional[Path] = None,
                          **kwargs):
    """An EntityPrompter over the tiny prompter, built from its config."""
    return PROMPTERS.build(
        entity_prompter_cfg(
            tokenizer_dir, checkpoint, entity_file,
            **dict(dict(max_length=16, encode_batch_size=5), **kwargs)))
