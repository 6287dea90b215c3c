"""Checkpoint contents that ``torch.load(weights_only=True)`` accepts:
MMEngine's message hub flattened to tensors and plain Python, and back."""
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['to_safe_objects', 'from_safe_objects']

_HISTORY_BUFFER = '__history_buffer__'


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
