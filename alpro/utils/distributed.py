"""Start the process group, on GPUs or on CPUs only."""
import os

import torch
import torch.distributed as dist

__all__ = ['init_distributed', 'close_distributed']


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
