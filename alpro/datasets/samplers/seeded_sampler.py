"""MMEngine's ``DefaultSampler`` that also seeds each sample's draws."""
from typing import Optional, Sized

from mmengine.dataset import DefaultSampler
from mmengine.logging import print_log
from mmengine.registry import DATA_SAMPLERS

from alpro.datasets.sample_seed import SampleSeed, bind_sample_seed

__all__ = ['SeededSampler']


@DATA_SAMPLERS.register_module()
class SeededSampler(DefaultSampler):
    """``DefaultSampler`` whose seed, epoch and rank also seed every random
    draw of the data pipeline.

    On construction it binds a :class:`~alpro.datasets.SampleSeed` to the
    :class:`~alpro.datasets.transforms.RandomTransform` s of ``dataset``
    (and of the datasets it wraps); :meth:`set_epoch`, which MMEngine's
    loops call before each epoch, moves it on. A sample's crops, flips,
    frame indices and RandAugment ops then depend only on ``(seed, epoch,
    rank, sample index)``: the same with 0, 2 or 8 workers, persistent or
    not, and in a run resumed from a checkpoint as in one that never
    stopped.

    Args:
        dataset: the dataset to sample.
        shuffle: shuffle the order in each epoch.
        seed: shared by all ranks; ``None`` draws one and shares it.
        round_up: pad to a multiple of the world size.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        super().__init__(
            dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        self.sample_seed = SampleSeed(self.seed, self.rank)
        bound = bind_sample_seed(dataset, self.sample_seed)
        print_log(
            f'SeededSampler: {bound} random transform(s) draw from '
            f'(seed {self.seed}, epoch, rank {self.rank}, sample index)',
            logger='current')

    def set_epoch(self, epoch: int) -> None:
        """Shuffle, and seed the samples' draws, for ``epoch``."""
        super().set_epoch(epoch)
        self.sample_seed.set_epoch(epoch)
