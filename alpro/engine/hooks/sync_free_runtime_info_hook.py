"""MMEngine's runtime-info hook without a host sync at every training
iteration."""
from typing import Any, Dict, List, Optional

import torch
from mmengine.hooks import CheckpointHook, LoggerHook, RuntimeInfoHook
from mmengine.logging import MessageHub

from alpro.registry import HOOKS

__all__ = ['SyncFreeRuntimeInfoHook', 'log_device_scalar']

#: message-hub runtime info (not saved in checkpoints) where a training step
#: leaves 0-d device tensors for ``SyncFreeRuntimeInfoHook`` to log; present
#: only while the hook trains
DEVICE_SCALARS = 'sync_free_runtime_info/device_scalars'


def log_device_scalar(message_hub: MessageHub, name: str,
                      value: torch.Tensor) -> None:
    """Log ``value``, a 0-d tensor, as ``train/<name>`` of the current
    training iteration, without a host sync where possible.

    While a ``SyncFreeRuntimeInfoHook`` trains, the tensor waits on the
    device and the hook records it with the iteration's outputs (one
    transfer per logging interval). Otherwise it is recorded at once with
    ``float`` (a host sync), as MMEngine's ``OptimWrapper`` does.

    Args:
        message_hub: the message hub the value goes to.
        name: the scalar's name, without the ``train/`` prefix.
        value: a one-element tensor, e.g. the gradient norm of the step.
    """
    pending = message_hub.get_info(DEVICE_SCALARS)
    if pending is None:
        message_hub.update_scalar(f'train/{name}', float(value))
    else:
        pending[name] = value.detach()


@HOOKS.register_module()
class SyncFreeRuntimeInfoHook(RuntimeInfoHook):
    """``RuntimeInfoHook`` that reads the logged values of the training
    steps from the device in one transfer when they are needed, not one
    ``.item()`` per value per iteration.

    MMEngine's hook puts every value ``train_step`` returns (losses,
    accuracies: 0-d device tensors) into the message hub after each
    iteration, each through ``.item()``: the host then waits for the GPU to
    finish the step before it prepares the next one, and the GPU idles
    while it does. This hook keeps the values on the device and, at the
    iterations where someone reads the message hub, stacks them, copies
    them once and records them in order: the same history, written later.

    Those iterations: the ``LoggerHook``'s (every ``interval`` iterations
    of the epoch and its last one), every iteration a ``CheckpointHook``
    saves at (``by_epoch=False``; by-epoch checkpoints follow an epoch's
    last iteration), and the last training iteration. A hook of your own
    that reads ``train/*`` scalars of the message hub at other iterations
    would see them up to a logging interval late. Everything else is
    ``RuntimeInfoHook``'s (iteration, epoch, learning rates, metrics).

    Values computed inside the step rather than returned by it (the
    gradient norm of ``SyncFreeOptimWrapper``) reach the hook through
    :func:`log_device_scalar` and are recorded the same way, each with its
    own iteration.
    """

    def __init__(self) -> None:
        self._pending: List[Dict[str, Any]] = []
        self._log_interval: Optional[int] = None
        self._save_intervals: List[int] = []

    def before_train(self, runner) -> None:
        super().before_train(runner)
        runner.message_hub.update_info(DEVICE_SCALARS, {}, resumed=False)
        loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
        self._log_interval = loggers[0].interval if loggers else None
        self._save_intervals = [
            h.interval for h in runner.hooks
            if isinstance(h, CheckpointHook) and not h.by_epoch
        ]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        # values of the step itself first: MMEngine records them first
        step = runner.message_hub.get_info(DEVICE_SCALARS)
        record = dict(step or {})
        if step:
            step.clear()
        record.update({
            key: value.detach() if torch.is_tensor(value) else value
            for key, value in (outputs or {}).items()
        })
        if record:
            self._pending.append(record)
        if self._is_read_now(runner, batch_idx):
            self.flush(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        runner.message_hub.pop_info(DEVICE_SCALARS)
        super().after_train(runner)

    def _is_read_now(self, runner, batch_idx: int) -> bool:
        """Whether a hook reads the message hub after this iteration."""
        if self.is_last_train_iter(runner) or self.end_of_epoch(
                runner.train_dataloader, batch_idx):
            return True
        if self._log_interval and self.every_n_inner_iters(
                batch_idx, self._log_interval):
            return True
        return any(
            self.every_n_train_iters(runner, interval)
            for interval in self._save_intervals)

    def flush(self, runner) -> None:
        """Record the pending values in the message hub: one device-to-host
        copy for all of them."""
        if not self._pending:
            return
        tensors = [
            value for step in self._pending for value in step.values()
            if torch.is_tensor(value)
        ]
        host = iter(
            torch.stack(
                [t.reshape(()).float().to(tensors[0].device)
                 for t in tensors]).tolist() if tensors else ())
        for step in self._pending:
            for key, value in step.items():
                if torch.is_tensor(value):
                    value = next(host)
                runner.message_hub.update_scalar(f'train/{key}', value)
        self._pending = []
