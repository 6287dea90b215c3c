"""A hook that kills its own training process with SIGKILL right after the
checkpoint of a given epoch is written, as a machine failure or an
out-of-memory killer would; for the resume tests (imported by configs
through ``custom_imports``)."""
import os
import signal

from mmengine.hooks import Hook

from alpro.registry import HOOKS


@HOOKS.register_module()
class KillAfterEpochHook(Hook):
    """SIGKILL this process after epoch ``epoch`` (1-based) is saved.

    Lowest priority: runs after the CheckpointHook has written the epoch.
    """

    priority = 'LOWEST'

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        # runner.epoch counts finished epochs from 0 until the loop moves on
        if runner.epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)
