"""Optimiser wrappers (``OPTIM_WRAPPERS``) and their constructors
(``OPTIM_WRAPPER_CONSTRUCTORS``)."""
from .decay_groups_optim_wrapper_constructor import \
    DecayGroupsOptimWrapperConstructor
from .sync_free_optim_wrapper import SyncFreeOptimWrapper

__all__ = ['DecayGroupsOptimWrapperConstructor', 'SyncFreeOptimWrapper']
