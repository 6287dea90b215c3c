"""Nominal epochs of a shard stream: how many samples each data-loader
worker hands out per epoch, and where each worker resumes.

An iterable dataset has no sampler, so nothing tells its workers where an
interrupted epoch stopped. :class:`StreamPosition` holds that in shared
memory (like :class:`~alpro.datasets.SampleSeed`), so that workers started
before a resume (``persistent_workers=True``) read it when their iterator
restarts.
"""
import importlib
import itertools
import logging
import random
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

__all__ = [
    'MAX_WORKERS', 'NominalEpochs', 'StreamPosition', 'worker_quota',
    'wds_shuffle'
]

#: data-loader workers a resume position can describe
MAX_WORKERS = 256


def worker_quota(epoch_length: int, world_size: int, worker: int,
                 num_workers: int) -> int:
    """Samples one worker of one rank hands out per nominal epoch: the
    rank's ``epoch_length // world_size`` split evenly over its workers (the
    first ones take one more when it does not divide)."""
    per_rank = epoch_length // world_size
    return per_rank // num_workers + int(worker < per_rank % num_workers)


class StreamPosition:
    """Where the workers of one rank resume inside an epoch.

    Layout of the shared ``int64`` tensor: ``[active, epoch, num_workers,
    next_worker, raw[MAX_WORKERS], handed[MAX_WORKERS]]``: ``raw[w]`` raw
    samples (good and bad) of worker ``w``'s shuffled stream were consumed
    and ``handed[w]`` samples handed out; ``next_worker`` is the worker whose
    batch comes next (a resumed loader starts its round-robin there).
    """

    def __init__(self) -> None:
        self._state = torch.zeros(
            4 + 2 * MAX_WORKERS, dtype=torch.int64).share_memory_()

    @property
    def active(self) -> bool:
        return bool(self._state[0])

    def set(self, epoch: int, next_worker: int, raw: Sequence[int],
            handed: Sequence[int]) -> None:
        """Resume ``epoch`` with worker ``w`` past ``raw[w]`` raw samples of
        which it handed out ``handed[w]``.

        Raises:
            ValueError: more workers than :data:`MAX_WORKERS`, or lists of
                different lengths.
        """
        num_workers = len(raw)
        if len(handed) != num_workers or not 0 < num_workers <= MAX_WORKERS:
            raise ValueError(
                f'a resume position needs 1 to {MAX_WORKERS} workers with '
                f'one raw and one handed count each; got {list(raw)} and '
                f'{list(handed)}')
        state = self._state
        state.zero_()
        state[1:4] = torch.tensor([epoch, num_workers, next_worker])
        state[4:4 + num_workers] = torch.tensor(list(raw))
        start = 4 + MAX_WORKERS
        state[start:start + num_workers] = torch.tensor(list(handed))
        state[0] = 1

    def clear(self) -> None:
        """Start the next epoch from its beginning."""
        self._state[0] = 0

    def start(self, epoch: int, worker: int,
              num_workers: int) -> Tuple[int, int, int]:
        """``(logical worker, raw samples to skip, samples handed out)`` for
        data-loader worker ``worker`` in ``epoch``.

        The logical worker is the stream the worker reads: rotated by
        ``next_worker`` so that the loader's round-robin, which restarts at
        its worker 0, continues where the interrupted one stopped.

        Raises:
            ValueError: the position was saved with another number of
                workers.
        """
        values: List[int] = self._state[:4].tolist()
        active, saved_epoch, saved_workers, next_worker = values
        if not active or saved_epoch != epoch:
            return worker, 0, 0
        if saved_workers != num_workers:
            raise ValueError(
                f'the shard stream was saved with {saved_workers} data-loader '
                f'workers per rank and resumes with {num_workers}; resume '
                f'with the same num_workers (0 and 1 count as 1)')
        logical = (worker + next_worker) % num_workers
        raw = int(self._state[4 + logical])
        handed = int(self._state[4 + MAX_WORKERS + logical])
        return logical, raw, handed


class NominalEpochs:
    """Nominal epochs for :class:`~alpro.datasets.VideoTextShardDataset`
    (its ``epoch_length``): per-worker quotas, passes over the shards, and
    the resume position."""

    def _init_epochs(self, epoch_length: Optional[int]) -> None:
        self.epoch_length = epoch_length
        # shared memory: workers read it when their iterator restarts
        self.position = StreamPosition()
        if epoch_length is not None:
            self._check_epoch_length(epoch_length)

    def _check_epoch_length(self, epoch_length: int) -> None:
        if epoch_length < self.world_size:
            raise ValueError(
                f'{type(self).__name__}: epoch_length={epoch_length} is less '
                f'than one sample per rank ({self.world_size} ranks)')
        if epoch_length % self.world_size:
            print_log(
                f'{type(self).__name__}: epoch_length={epoch_length} does '
                f'not divide by {self.world_size} ranks; each rank hands out '
                f'{epoch_length // self.world_size} samples per epoch',
                logger='current',
                level=logging.WARNING)

    def set_position(self, epoch: int, next_worker: int, raw: Sequence[int],
                     handed: Sequence[int]) -> None:
        """Resume inside ``epoch``: worker ``w``'s stream past ``raw[w]`` raw
        samples (``handed[w]`` of them handed out), the loader's next batch
        from worker ``next_worker`` (see :class:`StreamPosition`)."""
        self.sample_seed.set_epoch(epoch)
        self.position.set(epoch, next_worker, raw, handed)

    def quota(self, worker: int, num_workers: int) -> Optional[int]:
        """Samples worker ``worker`` of this rank hands out per epoch
        (``None`` without ``epoch_length``)."""
        if self.epoch_length is None:
            return None
        return worker_quota(self.epoch_length, self.world_size, worker,
                            num_workers)

    def _passes(self, worker: int, num_workers: int, pending: List[str],
                passes: List[int]) -> Iterator[dict]:
        """The raw samples of ``worker``'s shards, pass after pass, each
        pass shuffled on its own."""
        for pass_ in itertools.count():
            passes[0] = pass_ + 1
            shards = self.shards_of(self.rank, self.world_size, worker,
                                    num_workers, pass_)
            read = 0
            for sample in self._shuffled(
                    self._raw_samples(shards, pending, pass_), worker, pass_):
                read += 1
                yield sample
            if not read:
                raise RuntimeError(
                    f'{type(self).__name__}: worker {worker} of rank '
                    f'{self.rank} read no sample in a whole pass over its '
                    f'shards {[url for _, url in shards]}; the epoch_length '
                    'cannot be met. Check the shards.')

    def _epoch_stream(self, worker: int, num_workers: int,
                      pending: List[str]) -> Iterator[dict]:
        """The samples data-loader worker ``worker`` hands out in this
        epoch: its quota, from where the position says it stopped."""
        if len(self.urls) < self.world_size * num_workers:
            raise ValueError(
                f'{type(self).__name__}: {len(self.urls)} shards for '
                f'{self.world_size} ranks x {num_workers} workers; with '
                'epoch_length every worker needs a shard (write smaller '
                'shards or use fewer workers)')
        worker, skip, handed = self.position.start(self.epoch, worker,
                                                   num_workers)
        passes = [0]
        yield from self._stream(
            self._passes(worker, num_workers, pending, passes), pending,
            worker, self.quota(worker, num_workers), skip, handed, passes)

    def _quota_met(self, worker: int, quota: int, read: int,
                   passes: Optional[List[int]]) -> None:
        passes = passes[0] if passes else 1
        print_log(
            f'{type(self).__name__}: epoch {self.epoch}, rank {self.rank}, '
            f'worker {worker}: handed out its quota of {quota} samples after '
            f'reading {read} raw samples (reading had reached pass {passes} '
            'over its shards); what is left waits for the next epoch\'s '
            'reshuffle',
            logger='current',
            level=logging.INFO)


def wds_shuffle(bufsize: int, rng: random.Random) -> Callable:
    """webdataset's buffer shuffle as a stage: iterator in, iterator out;
    it fills the buffer before the first sample leaves it."""
    filters = importlib.import_module('webdataset.filters')
    return filters.shuffle(bufsize=bufsize, initial=bufsize, rng=rng)
