"""Model wrappers (``alpro.registry.MODEL_WRAPPERS``)."""
from .distributed_data_parallel import AlproDistributedDataParallel

__all__ = ['AlproDistributedDataParallel']
