"""What every data-loader worker sets up when it starts: its threads.

Used as a loader's ``worker_init_fn``::

    train_dataloader = dict(
        worker_init_fn=dict(type='init_data_worker', intra_op_threads=1,
                            decoder_threads=1), ...)

Workers run side by side on the same cores as the training process; a
worker with several threads of its own makes them all wait for each other.

More than one intra-op thread needs workers that are not forked (``spawn``
or ``forkserver``, e.g. ``env_cfg.mp_cfg.mp_start_method``): a forked worker
inherits the OpenMP thread pool of the training process without its threads,
and its first parallel op waits for them forever. PyTorch gives forked
workers one thread for that reason; :func:`init_data_worker` refuses more.
"""
import os

import torch
from mmengine.registry import FUNCTIONS

__all__ = ['init_data_worker', 'get_decoder_threads']

# decord threads of each reader in this process; set by init_data_worker
_decoder_threads = 1
# a worker whose pid differs from this was forked from the importing process
_IMPORTED_BY = os.getpid()


def get_decoder_threads() -> int:
    """Decoding threads of each video reader in this process (what
    :class:`~alpro.datasets.transforms.DecordInit` uses unless its config
    says otherwise): 1 unless :func:`init_data_worker` set another number.
    """
    return _decoder_threads


@FUNCTIONS.register_module()
def init_data_worker(worker_id: int,
                     intra_op_threads: int = 1,
                     decoder_threads: int = 1) -> None:
    """Set the threads of a data-loader worker.

    Args:
        worker_id: given by the DataLoader (unused).
        intra_op_threads: torch's intra-op threads (``torch.set_num_threads``)
            for the transforms' tensor ops; more than 1 only in workers
            that are not forked.
        decoder_threads: decord threads per video reader (0: decord's
            choice, one per core).

    Raises:
        RuntimeError: ``intra_op_threads > 1`` in a forked worker.
    """
    global _decoder_threads
    if int(intra_op_threads) < 1 or int(decoder_threads) < 0:
        raise ValueError(
            'init_data_worker: intra_op_threads must be >= 1 and '
            f'decoder_threads >= 0, got {intra_op_threads} and '
            f'{decoder_threads}; set them in the worker_init_fn of the '
            'dataloader config')
    if int(intra_op_threads) > 1 and os.getpid() != _IMPORTED_BY:
        raise RuntimeError(
            f'init_data_worker: intra_op_threads={intra_op_threads} in a '
            'forked data-loader worker would hang in its first parallel op '
            '(it inherits the OpenMP pool of the training process, not its '
            'threads). Keep intra_op_threads=1, or start workers with '
            "'spawn' or 'forkserver' (env_cfg.mp_cfg.mp_start_method, or "
            "the loader's multiprocessing_context).")
    torch.set_num_threads(int(intra_op_threads))
    _decoder_threads = int(decoder_threads)
