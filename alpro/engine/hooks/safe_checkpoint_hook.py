"""Keep checkpoints loadable under ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook

from alpro.registry import HOOKS
from alpro.utils.checkpoint import from_safe_objects, to_safe_objects

__all__ = ['SafeCheckpointHook']


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Flatten the message hub (``HistoryBuffer``s, numpy values) into
    tensors and plain Python before a checkpoint is saved, and rebuild it
    after one is loaded, so that ``--resume`` works with safe loading.

    Runs first among the hooks on save and on load.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = to_safe_objects(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = from_safe_objects(checkpoint[key])
