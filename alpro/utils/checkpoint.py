"""Safe checkpoint loading (``weights_only=True``), no network, and no
tensor skipped for its shape.

MMEngine's local loader calls ``torch.load`` and its remote loaders download.
Importing this module replaces both: local files load through torch's safe
unpickler with nothing unsafe allow-listed, and a checkpoint that holds other
objects is refused with the names of those objects; URLs and model-zoo
prefixes raise, because alpro never downloads at run time.

MMEngine's ``load_state_dict`` (behind ``load_from``, ``resume`` and
``init_cfg=dict(type='Pretrained')``) skips a tensor whose shape differs
from the model's and only logs a warning, so a checkpoint can load
"successfully" with parts left at their initial values. Importing this
module replaces it with :func:`load_state_dict`, which raises
:class:`CheckpointShapeError` instead.
"""
import logging
import os.path as osp
import pickle
from itertools import chain
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import mmengine.runner
import mmengine.runner.checkpoint
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import CheckpointLoader
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys

__all__ = [
    'CheckpointShapeError', 'UnsafeCheckpointError', 'load_checkpoint_safely',
    'load_state_dict', 'load_state_dict_checked', 'to_safe_objects',
    'from_safe_objects'
]

REMOTE_PREFIXES = ('http://', 'https://', 'modelzoo://', 'torchvision://',
                   'open-mmlab://', 'openmmlab://', 'mmcls://', 'pavi://',
                   's3://')
_HISTORY_BUFFER = '__history_buffer__'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects that safe loading refuses to build."""


def load_checkpoint_safely(filename: str,
                           map_location: Union[str, Callable, None] = None):
    """Load a local checkpoint with ``torch.load(weights_only=True)``.

    Args:
        filename: local path.
        map_location: as for :func:`torch.load`.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: it holds objects other than tensors and plain
            Python; the message names them.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} not found')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        raise UnsafeCheckpointError(
            f'refusing to load {filename}: it holds objects that safe loading '
            f'(weights_only=True) does not build: {", ".join(unsafe)}. Save '
            'only tensors and plain Python (alpro\'s SafeCheckpointHook does '
            'that for the message hub), or convert the file with a trusted '
            'script; alpro never allow-lists unsafe globals.') from error


def _refuse_remote(filename: str, map_location=None, **kwargs) -> Any:
    raise RuntimeError(
        f'{filename}: alpro does not download at run time (no network). '
        'Fetch the file beforehand and give its local path.')


CheckpointLoader.register_scheme(
    prefixes='', loader=load_checkpoint_safely, force=True)
CheckpointLoader.register_scheme(
    prefixes=REMOTE_PREFIXES, loader=_refuse_remote, force=True)


class CheckpointShapeError(RuntimeError):
    """Checkpoint tensors whose shapes differ from the model's.

    Attributes:
        mismatched: ``(key, checkpoint shape, model shape)`` of each.
    """

    def __init__(self,
                 mismatched: List[Tuple[str, tuple, tuple]],
                 source: Optional[str] = None) -> None:
        self.mismatched = mismatched
        origin = f' of {source}' if source else ''
        lines = '\n'.join(f'  {key}: checkpoint {list(ckpt)}, model '
                          f'{list(model)}' for key, ckpt, model in mismatched)
        super().__init__(
            f'{len(mismatched)} tensor(s){origin} do not fit the model, so '
            f'none of them was loaded:\n{lines}\nThe checkpoint was made '
            'for a model of other sizes. Build the model it was trained '
            'with (e.g. the backbone arch, img_size or num_frames, '
            'num_answers, num_entities, embed_dim), or delete the keys of a '
            'part you mean to train afresh from the checkpoint. A released '
            'ALPRO checkpoint is converted for a config by '
            'tools/model_converters/alpro_official_to_alpro.py IN OUT '
            '--config CONFIG, which reports every shape.')


def load_state_dict_checked(module: nn.Module,
                            state_dict: Dict[str, torch.Tensor],
                            source: Optional[str] = None) -> _IncompatibleKeys:
    """Load ``state_dict`` into ``module`` non-strictly, but never skip a
    tensor for its shape.

    Every module's load pre-hooks run first (e.g. ``TimeSformer`` resamples
    ``pos_embed`` and ``time_embed`` made for other sizes), then each tensor
    is compared with the model's. The walk over the modules is MMEngine's
    (a model wrapper is unwrapped), so the same hooks run as under
    ``load_from``.

    Args:
        module: the model (or a wrapper of it).
        state_dict: name -> tensor.
        source: where the tensors come from, for the error message.

    Returns:
        The missing keys (of the model, not in ``state_dict``; BatchNorm's
        ``num_batches_tracked`` left out) and the unexpected ones.

    Raises:
        CheckpointShapeError: names each tensor whose shape still differs.
    """
    missing: List[str] = []
    unexpected: List[str] = []
    errors: List[str] = []
    mismatched: List[Tuple[str, tuple, tuple]] = []
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = dict(state_dict)  # the pre-hooks edit this copy

    def load(module: nn.Module, prefix: str = '') -> None:
        if is_model_wrapper(module) or isinstance(module, BaseTTAModel):
            module = module.module
        local_metadata = {} if metadata is None else metadata.get(
            prefix[:-1], {})
        module._load_from_state_dict(state_dict, prefix, local_metadata, True,
                                     missing, unexpected, errors)
        own = chain(module._parameters.items(), (
            (name, buffer) for name, buffer in module._buffers.items()
            if name not in module._non_persistent_buffers_set))
        for name, tensor in own:
            value = state_dict.get(prefix + name)
            if tensor is None or not isinstance(value, torch.Tensor):
                continue
            # torch's one tolerance: a 0-d parameter from a 1-element one
            scalar = tensor.dim() == 0 and tuple(value.shape) == (1, )
            if value.shape != tensor.shape and not scalar:
                mismatched.append(
                    (prefix + name, tuple(value.shape), tuple(tensor.shape)))
        for name, child in module._modules.items():
            if child is not None:
                load(child, prefix + name + '.')

    load(module)
    if mismatched:
        raise CheckpointShapeError(mismatched, source)
    if errors:
        raise RuntimeError('\n'.join(errors))
    missing = [k for k in missing if 'num_batches_tracked' not in k]
    return _IncompatibleKeys(missing, unexpected)


def load_state_dict(module: nn.Module,
                    state_dict: Dict[str, torch.Tensor],
                    strict: bool = False,
                    logger: Union[str, logging.Logger, None] = 'current'
                    ) -> None:
    """MMEngine's ``load_state_dict`` with shape mismatches as errors.

    Missing and unexpected keys are logged as MMEngine does (raised when
    ``strict``); a tensor whose shape differs from the model's raises
    :class:`CheckpointShapeError` (:func:`load_state_dict_checked`).
    Installed in place of ``mmengine.runner.checkpoint.load_state_dict``
    when this module is imported.
    """
    missing, unexpected = load_state_dict_checked(module, state_dict)
    lines = []
    if unexpected:
        lines.append('unexpected key in source state_dict: '
                     f'{", ".join(unexpected)}')
    if missing:
        lines.append(
            f'missing keys in source state_dict: {", ".join(missing)}')
    if not lines:
        return
    message = '\n'.join(
        ['The model and loaded state dict do not match exactly'] + lines)
    if strict:
        raise RuntimeError(message)
    if get_dist_info()[0] == 0:
        print_log(message, logger=logger or 'current', level=logging.WARNING)


mmengine.runner.checkpoint.load_state_dict = load_state_dict
mmengine.runner.load_state_dict = load_state_dict


def to_safe_objects(obj: Any) -> Any:
    """Turn HistoryBuffers and numpy values into tensors and plain Python,
    recursively, so that ``weights_only`` loading accepts them."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {
            _HISTORY_BUFFER: True,
            'log': torch.from_numpy(np.asarray(log)),
            'count': torch.from_numpy(np.asarray(count)),
            'max_length': int(obj.max_length),
        }
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_safe_objects(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_safe_objects(v) for v in obj)
    return obj


def from_safe_objects(obj: Any) -> Any:
    """Rebuild the HistoryBuffers that :func:`to_safe_objects` flattened."""
    if isinstance(obj, dict):
        if obj.get(_HISTORY_BUFFER):
            return HistoryBuffer(obj['log'].numpy(), obj['count'].numpy(),
                                 obj['max_length'])
        return type(obj)((k, from_safe_objects(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_safe_objects(v) for v in obj)
    return obj
