"""Environment set-up, safe checkpoint loading and distributed helpers."""
from .checkpoint import (CheckpointShapeError, UnsafeCheckpointError,
                         from_safe_objects, load_checkpoint_safely,
                         load_state_dict_checked, to_safe_objects)
from .distributed import (all_gather_with_grad, close_distributed,
                          init_distributed)
from .setup_env import register_all_modules

__all__ = [
    'all_gather_with_grad', 'CheckpointShapeError', 'UnsafeCheckpointError',
    'close_distributed', 'from_safe_objects', 'init_distributed',
    'load_checkpoint_safely', 'load_state_dict_checked',
    'register_all_modules', 'to_safe_objects'
]
