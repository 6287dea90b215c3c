"""An optimiser wrapper whose step never waits for the device."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import OptimWrapper

from alpro.engine.hooks.sync_free_runtime_info_hook import log_device_scalar
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
    * clips gradients as ``OptimWrapper`` does (``clip_grad``) and logs the
      norm of every step, as ``train/grad_norm``, as it does, but leaves
      it on the device: ``SyncFreeRuntimeInfoHook`` (alpro's default
      runtime) reads it with the step's losses, in the one transfer of a
      logging interval, so that each logged iteration has its own norm.
      Without that hook the norm is read at once (a sync per step).

    Args:
        optimizer: the optimiser.
        dtype: ``'bfloat16'`` for bf16 autocast; None for full precision.
        **kwargs: ``accumulative_counts``, ``clip_grad``, as OptimWrapper.
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 **kwargs) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        if dtype == torch.float16:
            raise ValueError(
                'SyncFreeOptimWrapper: float16 needs loss scaling; use '
                "MMEngine's AmpOptimWrapper, or dtype='bfloat16'")
        self.cast_dtype = dtype

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
        if norm is not None:  # clip_grad_value_ returns None
            log_device_scalar(self.message_hub, self.grad_name, norm)
