"""Floating dtypes named in configs."""
from typing import Optional, Sequence, Union

import torch

__all__ = ['resolve_dtype']


def resolve_dtype(value: Union[None, str,
                               torch.dtype], allowed: Sequence[torch.dtype],
                  name: str) -> Optional[torch.dtype]:
    """``None`` stays ``None``; a dtype of ``allowed``, or its name
    (``'bfloat16'``), becomes that dtype; anything else is refused.

    Args:
        value: what the config says.
        allowed: the dtypes the component supports.
        name: the component and argument, for the error
            (``'EntityPrompter: weights_dtype'``).

    Raises:
        ValueError: naming ``name``, ``value`` and the allowed names.
    """
    if value is None:
        return None
    for dtype in allowed:
        if value in (dtype, str(dtype).split('.')[-1]):
            return dtype
    names = sorted(str(dtype).split('.')[-1] for dtype in allowed)
    raise ValueError(f'{name}={value!r}; use None or one of {names}')
