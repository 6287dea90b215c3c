"""DistributedDataParallel that also wraps a model living on the CPU."""
from typing import Optional, Sequence

import torch
from mmengine.model import MMDistributedDataParallel

from alpro.registry import MODEL_WRAPPERS

__all__ = ['AlproDistributedDataParallel']


@MODEL_WRAPPERS.register_module()
class AlproDistributedDataParallel(MMDistributedDataParallel):
    """MMEngine's DDP wrapper, minus ``device_ids`` for CPU modules.

    MMEngine 0.10.7's Runner always passes ``device_ids=[LOCAL_RANK]``, which
    DDP rejects for a module on the CPU (gloo). This drops them there and
    keeps everything else, so one config runs on GPUs and on CPUs.
    """

    def __init__(self,
                 module: torch.nn.Module,
                 device_ids: Optional[Sequence[int]] = None,
                 broadcast_buffers: bool = False,
                 **kwargs) -> None:
        on_cpu = all(not p.is_cuda for p in module.parameters())
        super().__init__(
            module=module,
            device_ids=None if on_cpu else device_ids,
            broadcast_buffers=broadcast_buffers,
            **kwargs)
