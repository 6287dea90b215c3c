"""An optimiser wrapper whose step never waits for the device."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import OptimWrapper

from alpro.registry import OPTIM_WRAPPERS

__all__ = ['SyncFreeOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class SyncFreeOptimWrapper(OptimWrapper):
    """MMEngine's ``OptimWrapper`` without host-device syncs in the step.

    Two things in MMEngine 0.10.7 make the host wait for the GPU at every
    step, so that the next step cannot be queued while this one runs:
    ``AmpOptimWrapper`` keeps a dynamic ``GradScaler`` even for bf16 (whose
    ``step`` reads the found-inf flags on the host), and ``OptimWrapper``
    logs the clipped gradient norm with ``float()``. This wrapper

    * autocasts the forward pass to ``dtype`` when one is given, without a
      scaler: bf16 has the exponent range of fp32 and needs no loss scaling
      (float16 does, and is refused: use MMEngine's ``AmpOptimWrapper``);
    * clips gradients as ``OptimWrapper`` does (``clip_grad``) but logs the
      norm, as ``train/grad_norm``, only every ``grad_norm_interval``
      steps.

    Args:
        optimizer: the optimiser.
        dtype: ``'bfloat16'`` for bf16 autocast; None for full precision.
        grad_norm_interval: log the gradient norm every this many steps.
        **kwargs: ``accumulative_counts``, ``clip_grad``, as OptimWrapper.
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 grad_norm_interval: int = 10,
                 **kwargs) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        if dtype == torch.float16:
            raise ValueError(
                'SyncFreeOptimWrapper: float16 needs loss scaling; use '
                "MMEngine's AmpOptimWrapper, or dtype='bfloat16'")
        self.cast_dtype = dtype
        self.grad_norm_interval = grad_norm_interval
        self._clip_count = 0

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model):
            if self.cast_dtype is None:
                yield
                return
            device = next(model.parameters()).device.type
            with torch.autocast(device_type=device, dtype=self.cast_dtype):
                yield

    def _clip_grad(self) -> None:
        params = [
            p for group in self.optimizer.param_groups for p in group['params']
            if p.grad is not None
        ]
        if not params:
            return
        norm = self.clip_func(params, **self.clip_grad_kwargs)
        self._clip_count += 1
        if norm is not None and self._clip_count % self.grad_norm_interval \
                == 0:
            self.message_hub.update_scalar(f'train/{self.grad_name}',
                                           float(norm))
