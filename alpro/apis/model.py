"""Build a trained model from its config and checkpoint, ready for
inference."""
import logging
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from torch import nn

from alpro.registry import MODELS
from alpro.utils import (init_random_weights, load_checkpoint_safely,
                         load_state_dict_checked, register_all_modules)

__all__ = ['init_model', 'CheckpointMismatchError']

# keys only the released ALPRO checkpoints have (their layout, not ours)
OFFICIAL_PREFIXES = ('visual_encoder.', 'itm_head.', 'mpm_head.',
                     'classifier.', 'text_encoder.cls.')


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose tensors are not exactly the model's."""


def _state_dict(checkpoint: dict) -> dict:
    """The tensors of an alpro checkpoint (``state_dict``) or of a plain
    state dict (a converter's output)."""
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise CheckpointMismatchError(
            f'the checkpoint holds no state dict (found {type(state)})')
    # a model wrapper's prefix
    if state and all(key.startswith('module.') for key in state):
        state = {key[len('module.'):]: value for key, value in state.items()}
    return state


def _mismatch_message(filename: str, missing: list, unexpected: list,
                      config: str) -> str:
    lines = [f'checkpoint {filename} does not fit the model of {config}:']
    for kind, keys in (('missing from the checkpoint', missing),
                       ('not in the model', unexpected)):
        if keys:
            shown = ', '.join(keys[:5]) + (', ...' if len(keys) > 5 else '')
            lines.append(f'  {len(keys)} tensor(s) {kind}: {shown}')
    if any(key.startswith(OFFICIAL_PREFIXES) for key in unexpected):
        lines.append(
            '  This is a released ALPRO checkpoint: convert it for the '
            'config first, python tools/model_converters/'
            f'alpro_official_to_alpro.py {filename} OUT.pth --config '
            f'{config}')
    else:
        lines.append('  Use the config the checkpoint was trained with.')
    return '\n'.join(lines)


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[Union[str, Path]] = None,
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """The model of ``config`` with the weights of ``checkpoint``, in eval
    mode on ``device``.

    The checkpoint is read with ``torch.load(weights_only=True)`` and must
    hold exactly the model's tensors: a missing, unexpected or mis-shaped
    tensor is a :class:`CheckpointMismatchError` (or
    :class:`~alpro.utils.CheckpointShapeError`) naming them, and nothing is
    skipped. A released ALPRO checkpoint is refused with the converter's
    command. The model's own ``pretrained`` files are not read.

    Args:
        config: a config file or a :class:`~mmengine.config.Config`.
        checkpoint: an alpro checkpoint (``tools/train.py``'s, or a
            converted release); ``None``: random weights, with a WARNING.
        device: where the model runs.

    Returns:
        The model, with ``model.cfg`` the config.
    """
    register_all_modules()
    cfg = config if isinstance(config, Config) else Config.fromfile(
        str(config))
    name = cfg.filename or '<config object>'
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        init_random_weights(model)
        print_log(
            f'init_model: no checkpoint, the model of {name} has random '
            'weights',
            logger='current',
            level=logging.WARNING)
    else:
        filename = str(checkpoint)
        state = _state_dict(load_checkpoint_safely(filename, 'cpu'))
        missing, unexpected = load_state_dict_checked(model, state, filename)
        if missing or unexpected:
            raise CheckpointMismatchError(
                _mismatch_message(filename, missing, unexpected, name))
    model.cfg = cfg
    return model.to(device).eval()
