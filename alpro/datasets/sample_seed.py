"""Per-sample random generators: every random draw of a data pipeline is a
function of ``(seed, epoch, rank, sample index)``.

Data-loader workers draw from their own NumPy state; which worker loads
which sample depends on ``num_workers``, and a worker that lives across
epochs (``persistent_workers=True``) or is started afresh by a resume
carries a different state. So draws taken from a worker's state change with
the number of workers and make a resumed run differ from an uninterrupted
one. A :class:`SampleSeed` fixes this: a sampler
(:class:`~alpro.datasets.samplers.SeededSampler`) creates it, binds it to
the random transforms of its dataset and sets its epoch; each transform then
draws from a generator built for the sample it is given.
"""
from typing import Iterator, Sequence, Tuple

import numpy as np
import torch

__all__ = ['SampleSeed', 'bind_sample_seed']

_UINT64 = 1 << 64
# the place of a shard dataset's image pipeline: past any sub-dataset index
IMAGE_PIPELINE = 1 << 32


class SampleSeed:
    """The run's seed, the epoch and the rank, shared with the data-loader
    workers.

    The three numbers live in shared memory: workers started once
    (``persistent_workers=True``) read the epoch the sampler set in the main
    process. The sampler sets the epoch before it hands out the indices of
    that epoch, and a worker only loads a sample after it received its index,
    so every sample sees the epoch it belongs to.

    Args:
        seed: the sampler's seed (the same on every rank).
        rank: this process's rank.
    """

    def __init__(self, seed: int, rank: int = 0) -> None:
        self._state = torch.tensor([int(seed), 0, int(rank)],
                                   dtype=torch.int64).share_memory_()

    @property
    def seed(self) -> int:
        return int(self._state[0])

    @property
    def epoch(self) -> int:
        return int(self._state[1])

    @property
    def rank(self) -> int:
        return int(self._state[2])

    def set_epoch(self, epoch: int) -> None:
        """Make the next samples draw for ``epoch``."""
        self._state[1] = int(epoch)

    def generator(self, sample_idx: int,
                  stream: Sequence[int]) -> np.random.Generator:
        """The generator of one sample.

        Args:
            sample_idx: the sample's index in its dataset.
            stream: tells apart the draws of different transforms of the
                same sample (their places in the pipeline).

        Returns:
            A NumPy generator seeded with ``(seed, epoch, rank, *stream,
            sample_idx)``.
        """
        seed, epoch, rank = self._state.tolist()
        key = [seed, epoch, rank, *stream, int(sample_idx)]
        # SeedSequence takes non-negative integers of any size
        return np.random.default_rng([value % _UINT64 for value in key])

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(seed={self.seed}, '
                f'epoch={self.epoch}, rank={self.rank})')


def _pipelines(dataset, place: Tuple[int, ...] = ()) -> Iterator[tuple]:
    """``(place, dataset, transforms)`` of every pipeline in ``dataset``,
    including those of the datasets it wraps (``ConcatDataset.datasets``,
    ``RepeatDataset.dataset``); ``place`` numbers the sub-datasets."""
    for i, child in enumerate(getattr(dataset, 'datasets', None) or ()):
        yield from _pipelines(child, place + (i, ))
    inner = getattr(dataset, 'dataset', None)
    if inner is not None:
        yield from _pipelines(inner, place)
    pipeline = getattr(dataset, 'pipeline', None)
    yield place, dataset, list(getattr(pipeline, 'transforms', None) or ())
    # a shard dataset's pipeline of image samples: streams of their own
    image_pipeline = getattr(dataset, 'image_pipeline', None)
    if image_pipeline is not None:
        yield place + (IMAGE_PIPELINE, ), None, list(image_pipeline.transforms)


def bind_sample_seed(dataset, sample_seed: SampleSeed) -> int:
    """Make every :class:`~alpro.datasets.transforms.RandomTransform` in
    ``dataset``'s pipelines, and a dataset that is one itself, draw from
    ``sample_seed``.

    Each transform gets its own stream: the place of its dataset (inside a
    ``ConcatDataset``) and its place in the pipeline, so that two transforms,
    or the same index in two concatenated datasets, never share draws.

    Returns:
        How many transforms were bound.
    """
    from alpro.datasets.transforms import RandomTransform
    bound = 0
    for place, owner, transforms in _pipelines(dataset):
        for position, transform in enumerate(transforms):
            if isinstance(transform, RandomTransform):
                transform.bind_sample_seed(sample_seed, place + (position, ))
                bound += 1
        if isinstance(owner, RandomTransform):
            # a dataset that draws too (CC3M picks one of an image's
            # captions): the stream after its pipeline's
            owner.bind_sample_seed(sample_seed, place + (len(transforms), ))
            bound += 1
    return bound
