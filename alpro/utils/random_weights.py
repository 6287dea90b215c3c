"""The one switch from pretrained to random weights, for every component.

A component reads no file when it is built: it reads its weight files
(``pretrained``, a prompter's ``checkpoint``, MMEngine's ``Pretrained``
``init_cfg``) in ``init_weights()``. :func:`init_random_weights` runs
``init_weights()`` with every such read skipped, so a model of any config
gets random weights from no file, as timm's ``pretrained=False``. A
component that reads a weight file checks :func:`reads_weight_files` first.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Optional, Union

from torch import nn

__all__ = ['init_random_weights', 'reads_weight_files', 'random_weights']

_RANDOM = ContextVar('alpro_random_weights', default=False)


def reads_weight_files() -> bool:
    """Whether ``init_weights()`` may read weight files now (``False``
    inside :func:`random_weights`)."""
    return not _RANDOM.get()


@contextmanager
def random_weights() -> Iterator[None]:
    """Within it, components initialise randomly instead of reading their
    weight files (see :func:`init_random_weights`)."""
    token = _RANDOM.set(True)
    try:
        yield
    finally:
        _RANDOM.reset(token)


def _without_pretrained(init_cfg: Union[dict, list]) -> Optional[list]:
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg)
    kept = [cfg for cfg in cfgs if cfg.get('type') != 'Pretrained']
    return kept or None


def init_random_weights(model: nn.Module) -> nn.Module:
    """``model.init_weights()`` from no file: inside :func:`random_weights`
    and with every ``Pretrained`` entry of the modules' ``init_cfg`` left
    out (their other entries apply; the ``init_cfg`` are restored after).

    Returns:
        ``model``, initialised.
    """
    saved = {}
    for module in model.modules():
        init_cfg = getattr(module, 'init_cfg', None)
        if init_cfg:
            saved[module] = init_cfg
            module.init_cfg = _without_pretrained(init_cfg)
    try:
        with random_weights():
            model.init_weights()
    finally:
        for module, init_cfg in saved.items():
            module.init_cfg = init_cfg
    return model
