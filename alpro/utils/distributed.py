"""Start the process group, on GPUs or on CPUs only, and gather with
autograd."""
import os
from typing import Callable, Optional

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ['init_distributed', 'close_distributed', 'all_gather_with_grad']


def init_distributed(launcher: str, backend: str = 'gloo') -> None:
    """Start the process group where MMEngine cannot.

    MMEngine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device``, fatal
    on a machine without a GPU. On such a machine this starts the group with
    ``backend`` (gloo) from the launcher's environment before the Runner is
    built; the Runner then finds it started and leaves it. With a GPU it does
    nothing and MMEngine starts NCCL as usual.

    Args:
        launcher: ``'none'``, ``'pytorch'`` (torchrun) or ``'slurm'``.
        backend: the CPU backend.
    """
    if launcher == 'none' or torch.cuda.is_available() or (
            dist.is_available() and dist.is_initialized()):
        return
    if launcher == 'slurm':
        # srun sets these; torch's env:// rendezvous reads the torchrun names
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise RuntimeError(
                'slurm on CPU: set MASTER_ADDR to the first node of the job')
    elif launcher != 'pytorch':
        raise ValueError(f"unknown launcher '{launcher}'")
    dist.init_process_group(backend=backend)


def close_distributed() -> None:
    """Destroy the process group, if one is up.

    A gloo group left alive at interpreter exit can abort the process
    ("terminate called without an active exception"), failing a finished
    run; every tool that starts one closes it.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# newest first: the autograd all-gathers of ``_functional_collectives``
AUTOGRAD_GATHER_NAMES = ('all_gather_single_autograd',
                         'all_gather_tensor_autograd')


def _functional_all_gather() -> Optional[Callable]:
    """The autograd all-gather of ``_functional_collectives``, if any.

    ``all_gather_single_autograd`` (torch 2.14; ``all_gather_tensor_autograd``
    is its deprecated name there, a FutureWarning at each call) or
    ``all_gather_tensor_autograd`` (earlier releases, torch 2.11 among
    them): backward is a reduce-scatter with sum, it works with gloo (tested
    with two gloo ranks) and TorchDynamo traces it. The older
    ``torch.distributed.nn.functional.all_gather`` does not trace in
    torch 2.11 (``setattr`` on its backward's context breaks a compiled
    loss under DDP).
    """
    try:
        from torch.distributed import _functional_collectives as collectives
    except ImportError:
        return None
    for name in AUTOGRAD_GATHER_NAMES:
        if hasattr(collectives, name):
            return getattr(collectives, name)
    return None


_AUTOGRAD_ALL_GATHER = _functional_all_gather()


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every rank, differentiably.

    The backward pass sends each rank's gradient of its gathered copy back
    to the rank that owns the slice and sums them there, so that the local
    slice receives the gradient of every rank's loss. MMEngine's
    ``all_gather`` has no autograd and would cut it.

    Every rank must pass the same shape: gloo aborts the process
    (``gloo::EnforceNotMet``) on a size mismatch and NCCL may hang.

    Args:
        tensor: ``(B, ...)``, the same shape on every rank.

    Returns:
        ``(W * B, ...)``: rank ``r``'s tensor at rows ``[r * B, (r + 1) * B)``
        of the default process group, ``W`` its world size.
    """
    if _AUTOGRAD_ALL_GATHER is not None:
        return _AUTOGRAD_ALL_GATHER(tensor.contiguous(), 0, dist.group.WORLD)
    # older torch: the autograd all-gather of that era, not deprecated
    # there; off NCCL its backward emulates reduce-scatter with
    # all-to-all, so it works with gloo too
    import torch.distributed.nn.functional as dist_nn
    return torch.cat(dist_nn.all_gather(tensor), dim=0)
