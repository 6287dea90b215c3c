"""The base of every transform (or dataset) that draws random numbers."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from alpro.datasets.sample_seed import SampleSeed

__all__ = ['RandomTransform', 'global_generator']


def global_generator() -> np.random.Generator:
    """A generator seeded from NumPy's global random state (what an unbound
    transform draws from)."""
    return np.random.default_rng(np.random.randint(0, 2**31, size=4))


class RandomTransform:
    """Base of the transforms that draw random numbers (and of a dataset
    that draws, as CC3M picks one of an image's captions).

    A subclass draws every random number of a sample from the generator
    :meth:`rng` returns for it. Once bound to a :class:`SampleSeed` (the
    :class:`~alpro.datasets.samplers.SeededSampler` of a training loader
    binds the transforms of its dataset), that generator depends only on
    ``(seed, epoch, rank, the transform's place, results['sample_idx'])``:
    a sample gets the same draws whichever worker loads it, with any
    ``num_workers``, persistent workers or not, and after a resume. A
    transform used on its own (unbound) seeds the generator from NumPy's
    global random state, so ``np.random.seed`` still makes it repeatable.
    """

    _sample_seed: Optional[SampleSeed] = None
    _stream: Tuple[int, ...] = ()

    def bind_sample_seed(self, sample_seed: SampleSeed,
                         stream: Sequence[int]) -> None:
        """Draw from ``sample_seed`` from now on.

        Args:
            sample_seed: shared seed, epoch and rank.
            stream: the transform's place (dataset, position in the
                pipeline), which keeps its draws apart from the others'.
        """
        self._sample_seed = sample_seed
        self._stream = tuple(int(s) for s in stream)

    def rng(self, results: Dict) -> np.random.Generator:
        """The generator for the sample in ``results``.

        Raises:
            KeyError: bound, but ``results`` has no ``sample_idx`` (every
                dataset of MMEngine's ``BaseDataset`` family sets it).
        """
        if self._sample_seed is None:
            return global_generator()
        if 'sample_idx' not in results:
            raise KeyError(
                f'{type(self).__name__}: results has no "sample_idx", which '
                'seeds the draws of each sample; load samples through a '
                'dataset that sets it (any mmengine BaseDataset does)')
        return self._sample_seed.generator(results['sample_idx'], self._stream)
