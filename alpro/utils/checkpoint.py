"""Safe checkpoint loading (``weights_only=True``) and no network.

MMEngine's local loader calls ``torch.load`` and its remote loaders download.
Importing this module replaces both: local files load through torch's safe
unpickler with nothing unsafe allow-listed, and a checkpoint that holds other
objects is refused with the names of those objects; URLs and model-zoo
prefixes raise, because alpro never downloads at run time.
"""
import os.path as osp
import pickle
from typing import Any, Callable, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'UnsafeCheckpointError', 'load_checkpoint_safely', 'to_safe_objects',
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
