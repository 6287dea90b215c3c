"""Environment set-up, safe checkpoint loading (and what checkpoints may
hold, and their renamed keys) and distributed helpers."""
from .checkpoint import (CheckpointShapeError, UnsafeCheckpointError,
                         load_checkpoint_safely, load_state_dict_checked)
from .distributed import (all_gather_with_grad, close_distributed,
                          init_distributed)
from .random_weights import (init_random_weights, random_weights,
                             reads_weight_files)
from .renamed_keys import rename_old_keys
from .safe_objects import from_safe_objects, to_safe_objects
from .setup_env import register_all_modules

__all__ = [
    'all_gather_with_grad', 'CheckpointShapeError', 'UnsafeCheckpointError',
    'close_distributed', 'from_safe_objects', 'init_distributed',
    'init_random_weights', 'load_checkpoint_safely', 'load_state_dict_checked',
    'random_weights', 'reads_weight_files', 'register_all_modules',
    'rename_old_keys', 'to_safe_objects'
]
