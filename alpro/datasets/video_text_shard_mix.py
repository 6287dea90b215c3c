"""Several shard corpora (WebVid videos, CC-3M images, ...) mixed in given
ratios into one stream."""
import random
from typing import Iterator, List, Optional, Sequence, Union

from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import IterableDataset, get_worker_info

from alpro.registry import DATASETS
from .sample_seed import SampleSeed, bind_sample_seed
from .video_text_shard_dataset import VideoTextShardDataset

__all__ = ['VideoTextShardMix']


@DATASETS.register_module()
class VideoTextShardMix(IterableDataset):
    """Draw each sample from one of several
    :class:`VideoTextShardDataset` s, with the given probabilities, as the
    file datasets mix in a ``ConcatDataset`` (there in proportion to their
    sizes; here by ``ratios``).

    Every rank and worker draws the source of each sample from a generator
    seeded with ``(seed, epoch, rank, worker)``; each source reads its own
    shards of that rank and worker. The stream ends when the first source
    runs out (``stop='first'``, so that the ratios hold to the end) or when
    all have (``stop='all'``: the rest then come from the sources left).

    The sources' random transforms draw from this dataset's seed, each in
    its own stream (as in a ``ConcatDataset``), so that two corpora never
    share draws.

    Args:
        datasets: the sources, configs or datasets.
        ratios: the probability of each source (normalised).
        stop: ``'first'`` or ``'all'``, see above.
        seed: shared by all ranks; ``None`` draws one and shares it.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, VideoTextShardDataset]],
                 ratios: Sequence[float],
                 stop: str = 'first',
                 seed: Optional[int] = None) -> None:
        self.datasets: List[VideoTextShardDataset] = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets
        ]
        if len(ratios) != len(self.datasets) or min(ratios, default=0) < 0 \
                or sum(ratios) <= 0:
            raise ValueError(
                f'{type(self).__name__}: ratios must give one non-negative '
                f'weight per dataset ({len(self.datasets)}), not all zero; '
                f'got {list(ratios)}')
        if stop not in ('first', 'all'):
            raise ValueError(f"stop must be 'first' or 'all', got {stop!r}")
        self.ratios = [float(r) / sum(ratios) for r in ratios]
        self.stop = stop
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.rank = get_dist_info()[0]
        self.sample_seed = SampleSeed(self.seed, self.rank)
        # each source's transforms in the stream of its place in the list
        bind_sample_seed(self, self.sample_seed)
        sizes = [d.num_samples for d in self.datasets]
        self.num_samples = None if None in sizes else sum(sizes)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the mix and of every source."""
        self.sample_seed.set_epoch(epoch)
        for dataset in self.datasets:
            dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker = 0 if info is None else info.id
        rng = random.Random(
            f'{self.seed}-{self.sample_seed.epoch}-{self.rank}-{worker}-mix')
        sources = [iter(d) for d in self.datasets]
        weights = list(self.ratios)
        while any(weights):
            choice = rng.choices(range(len(sources)), weights)[0]
            try:
                yield next(sources[choice])
            except StopIteration:
                if self.stop == 'first':
                    return
                weights[choice] = 0.

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({len(self.datasets)} sources, '
                f'ratios={[round(r, 3) for r in self.ratios]}, '
                f'stop={self.stop!r})')
