"""Video-text pairs streamed from WebDataset tar shards (video2dataset and
img2dataset layout)."""
import itertools
import json
import logging
import random
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import Compose
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info

from alpro.registry import DATASETS, TRANSFORMS
from alpro.structures import VideoTextDataSample
from .errors import BadSampleError
from .sample_seed import SampleSeed, bind_sample_seed
from .shard_reader import (ShardReport, expand_shards, iter_shard,
                           missing_local_shards)
from .shard_stream import NominalEpochs, wds_shuffle

__all__ = ['VideoTextShardDataset']

VIDEO_EXTS = ('mp4', 'webm', 'mkv', 'avi', 'mov')
IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')


class _BadRaw(Exception):
    """A shard sample that cannot be used before decoding (no media, no or
    empty caption)."""


def _compose(transforms: Sequence[Union[dict, Callable]]) -> Compose:
    return Compose([
        TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms
    ])


@DATASETS.register_module()
class VideoTextShardDataset(NominalEpochs, IterableDataset):
    """Video-caption (or image-caption) pairs read from tar shards, as
    video2dataset and img2dataset write them: per sample ``{key}.mp4`` (or
    ``.jpg``, ...), ``{key}.txt`` with the caption and ``{key}.json`` with
    metadata, in ``{00000..NNNNN}.tar``.

    Each sample is decoded in memory by the same pipeline as the file
    datasets: the media bytes go in ``results['video_bytes']`` (read by
    ``DecordInit``) or ``results['img_bytes']`` (``LoadImageAsClip``), and
    ``video_path`` / ``img_path`` name the member as
    ``{shard url}/{key}.{ext}`` in messages. ``video_id`` is the key;
    ``sample_idx`` is ``pass << 48 | shard index << 32 | position in the
    shard`` (pass 0 without ``epoch_length``), which seeds the random
    transforms (with the seed, the epoch and the rank).

    Order: the shard list is shuffled with ``(seed, epoch)`` (the same on
    every rank), dealt to the ranks (``shards[rank::world_size]``) and then
    to the data-loader workers of each rank; each worker shuffles its
    samples in a buffer of ``shuffle_buffer`` raw samples seeded with
    ``(seed, epoch, rank, worker)``. The rank and the world size are read
    when the dataset is built (MMEngine's Runner builds it after starting
    the process group), so that workers started with ``spawn`` split as
    forked ones do. The buffer holds undecoded samples:
    its memory is about ``shuffle_buffer`` times a sample's bytes.

    Bad input (the same policy as :class:`BaseVideoTextDataset`):

    * a sample whose media is missing or does not decode, or whose caption
      is missing or empty, is skipped in training: logged with its reason
      (``bad sample shard.tar/key.mp4 (...); replaced by another sample``),
      and its path listed in the ``replaced`` meta field of the next sample
      handed out, which :class:`~alpro.engine.hooks.BadSampleHook` counts
      and bounds; more than ``max_refetch`` bad samples in a row stop the
      run;
    * a truncated or unreadable tar stops that shard: the samples read
      before are kept, the shard's URL is counted as a bad sample, and the
      log says after how many samples it stopped;
    * each shard's counts are logged once they are final, after its last
      sample was decoded or skipped (a WARNING when it had bad samples), and
      kept in :attr:`shard_reports` of the process reading it;
    * a shard that cannot be opened raises
      :class:`~alpro.datasets.shard_reader.ShardOpenError` naming it; local
      shards that do not exist are named when the dataset is built;
    * in test mode nothing is skipped silently: a bad sample or truncated
      shard stops the run, or with ``skip_bad=True`` gives a left-out
      placeholder (a truncated shard: a WARNING naming it).

    Args:
        shards: a brace pattern (``'data/shards/{00000..00099}.tar'``, with
            ``'::'`` joining several), or a list of URLs or patterns: local
            paths, ``file:``, ``pipe:`` commands, ``http(s)``, or any
            ``fsspec`` URL (``s3://...``).
        pipeline: the transforms (dicts are built from ``TRANSFORMS``), the
            same as a file dataset's.
        image_pipeline: the transforms of image samples, when they differ
            from the videos' (ALPRO's pre-training crops and flips CC-3M
            images, not WebVid videos): one dataset over video and image
            shards then mixes them in proportion to their sizes, as a
            ``ConcatDataset`` of the file datasets does. ``None``:
            ``pipeline`` for both.
        caption_field: ``None`` reads the caption from ``{key}.txt``; a
            name reads that field of ``{key}.json``.
        video_exts: extensions of a video member, in order of preference.
        image_exts: extensions of an image member (used when there is no
            video).
        shuffle: shuffle shards and samples; ``None``: ``not test_mode``.
        shuffle_buffer: raw samples in each worker's shuffle buffer.
        seed: shared by all ranks; ``None`` draws one and shares it.
        test_mode: validation/test behaviour, see above.
        skip_bad: in test mode, leave bad samples out instead of stopping.
        max_refetch: bad samples in a row before giving up.
        num_samples: the corpus size (``stats.json`` of ``pack_shards.py``
            has it); ``BadSampleHook`` bounds the bad samples by it. Unknown
            (``None``): the bad samples are counted but not bounded.
        epoch_length: samples per nominal epoch over all ranks, for an
            iteration-based schedule with
            :class:`~alpro.engine.hooks.ShardEpochHook`. Each rank then
            hands out exactly ``epoch_length // world_size`` samples per
            epoch (every rank makes the same number of batches: no rank
            waits at the end of an uneven shard split), split evenly over
            its workers; a worker whose shards run out reads them again in
            a new order (a new *pass*, dealt with ``(seed, epoch, pass)``),
            and one that meets its quota stops, leaving the rest of its
            shards to the next epoch's reshuffle (both logged per worker).
            ``None``: one pass over the shards per epoch.
    """

    def __init__(self,
                 shards: Union[str, Sequence[str]],
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 image_pipeline: Optional[Sequence[Union[dict,
                                                         Callable]]] = None,
                 caption_field: Optional[str] = None,
                 video_exts: Sequence[str] = VIDEO_EXTS,
                 image_exts: Sequence[str] = IMAGE_EXTS,
                 shuffle: Optional[bool] = None,
                 shuffle_buffer: int = 1000,
                 seed: Optional[int] = None,
                 test_mode: bool = False,
                 skip_bad: bool = False,
                 max_refetch: int = 10,
                 num_samples: Optional[int] = None,
                 epoch_length: Optional[int] = None) -> None:
        if shuffle_buffer < 1:
            raise ValueError(
                f'shuffle_buffer must be >= 1, got {shuffle_buffer}')
        self.urls = expand_shards(shards)
        missing = missing_local_shards(self.urls)
        if missing:
            raise FileNotFoundError(
                f'{type(self).__name__}: {len(missing)} of {len(self.urls)} '
                f'shards not found: {missing[:5]}' +
                (' ...' if len(missing) > 5 else '') +
                '; write them with tools/data/pack_shards.py or fix the '
                'shards pattern in the config')
        self.rank, self.world_size = get_dist_info()
        if len(self.urls) < self.world_size:
            raise ValueError(
                f'{type(self).__name__}: {len(self.urls)} shards for '
                f'{self.world_size} ranks; every rank needs at least one '
                'shard (write smaller shards)')
        self.pipeline = _compose(pipeline)
        self.image_pipeline = None if image_pipeline is None else _compose(
            image_pipeline)
        self.caption_field = caption_field
        self.video_exts = tuple(e.lower().lstrip('.') for e in video_exts)
        self.image_exts = tuple(e.lower().lstrip('.') for e in image_exts)
        self.test_mode = test_mode
        self.shuffle = (not test_mode) if shuffle is None else bool(shuffle)
        self.shuffle_buffer = int(shuffle_buffer)
        self.skip_bad = skip_bad
        self.max_refetch = max_refetch
        self.num_samples = num_samples
        self.seed = sync_random_seed() if seed is None else int(seed)
        # shared memory: persistent workers see the epoch set_epoch sets
        self.sample_seed = SampleSeed(self.seed, self.rank)
        bind_sample_seed(self, self.sample_seed)
        self.shard_reports: List[ShardReport] = []
        self._init_epochs(epoch_length)

    @property
    def epoch(self) -> int:
        return self.sample_seed.epoch

    def set_epoch(self, epoch: int) -> None:
        """Shuffle shards and samples, and seed the samples' draws, for
        ``epoch``, from its beginning."""
        self.position.clear()
        self.sample_seed.set_epoch(epoch)

    def shards_of(self,
                  rank: int,
                  world_size: int,
                  worker: int,
                  num_workers: int,
                  pass_: int = 0) -> List[Tuple[int, str]]:
        """``(index in the shard list, url)`` of the shards one worker of
        one rank reads in this epoch (in pass ``pass_`` over the shards, see
        ``epoch_length``), in reading order."""
        order = list(range(len(self.urls)))
        if self.shuffle:
            key = f'{self.seed}-{self.epoch}'
            random.Random(key +
                          (f'-pass{pass_}' if pass_ else '')).shuffle(order)
        mine = order[rank::world_size][worker::num_workers]
        return [(i, self.urls[i]) for i in mine]

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id,
                                                           info.num_workers)
        pending: List[str] = []  # bad paths since the last sample handed out
        if self.epoch_length is None:
            shards = self.shards_of(self.rank, self.world_size, worker,
                                    num_workers)
            yield from self._stream(
                self._shuffled(self._raw_samples(shards, pending), worker),
                pending, worker)
            return
        yield from self._epoch_stream(worker, num_workers, pending)

    def _stream(self,
                raw: Iterator[dict],
                pending: List[str],
                worker: int,
                quota: Optional[int] = None,
                skip: int = 0,
                handed: int = 0,
                passes: Optional[List[int]] = None) -> Iterator[dict]:
        """Decode and hand out the (shuffled) raw samples; with a
        ``quota``, past ``skip`` raw samples (a resume) and until ``quota``
        are handed out, each tagged with its place ``stream=[epoch, worker,
        raw, handed]``."""
        for sample in itertools.islice(raw, skip):
            self._processed(sample['__report__'])  # read before the resume
        if quota is not None and handed >= quota:
            return
        in_a_row: List[str] = []
        for position, sample in enumerate(raw, skip + 1):
            results = dict(sample_idx=sample['__index__'], replaced=[])
            try:
                self._fill(results, sample)
                results['replaced'] = list(pending)
                out = self._pipeline_of(results)(results)
            except BadSampleError as error:
                report = sample['__report__']
                report.add_bad(sample['__key__'], error.reason)
                if self.test_mode:
                    left_out = self._bad_in_test(results, error)
                    self._processed(report)
                    yield left_out
                else:
                    self._skip(error, pending, in_a_row)
                    self._processed(report)
                continue
            self._processed(sample['__report__'])
            pending.clear()
            in_a_row.clear()
            if quota is None:
                yield out
                continue
            handed += 1
            out['data_samples'].set_metainfo(
                dict(stream=[self.epoch, worker, position, handed]))
            yield out
            if handed == quota:
                self._quota_met(worker, quota, position, passes)
                return

    def _shuffled(self,
                  raw: Iterator[dict],
                  worker: int,
                  pass_: int = 0) -> Iterator[dict]:
        """One pass of a worker's raw samples through the shuffle buffer,
        seeded with ``(seed, epoch, rank, worker, pass)``. The buffer drains
        at the end of the pass: a pass never mixes with the next, so that an
        epoch of one pass hands out each sample once."""
        if not self.shuffle:
            return raw
        key = f'{self.seed}-{self.epoch}-{self.rank}-{worker}'
        rng = random.Random(key + (f'-pass{pass_}' if pass_ else ''))
        return wds_shuffle(self.shuffle_buffer, rng)(raw)

    def _raw_samples(self,
                     shards: List[Tuple[int, str]],
                     pending: List[str],
                     pass_: int = 0) -> Iterator[dict]:
        """The undecoded samples of ``shards``, a report per shard; a
        sample's index is ``pass << 48 | shard index << 32 | position``."""
        if not pass_:
            self.shard_reports = []
        for index, url in shards:
            report = ShardReport(url)
            self.shard_reports.append(report)
            for position, sample in enumerate(iter_shard(url, report)):
                sample['__index__'] = (pass_ << 48) | (index << 32) | position
                sample['__report__'] = report
                yield sample
            report.read_done = True
            if report.truncated is not None:
                self._truncated(report, pending)
            self._log_when_complete(report)

    def _processed(self, report: ShardReport) -> None:
        """One more sample of ``report``'s shard decoded or skipped."""
        report.processed += 1
        self._log_when_complete(report)

    @staticmethod
    def _log_when_complete(report: ShardReport) -> None:
        """Log the shard's counts once they are final (a WARNING when it
        had bad samples or broke off)."""
        if not report.complete:
            return
        bad = report.num_bad or report.truncated is not None
        print_log(
            report.summary(),
            logger='current',
            level=logging.WARNING if bad else logging.DEBUG)

    def _pipeline_of(self, results: dict) -> Compose:
        """The pipeline of a filled sample: ``image_pipeline`` for an
        image when there is one."""
        if self.image_pipeline is not None and 'img_bytes' in results:
            return self.image_pipeline
        return self.pipeline

    def _fill(self, results: dict, sample: dict) -> None:
        """Put the sample's media bytes, names and caption in ``results``.

        Raises:
            BadSampleError: no media member, or no or an empty caption.
        """
        key, url = sample['__key__'], sample['__url__']
        results['video_id'] = key
        for ext in self.video_exts:
            if ext in sample:
                results.update(
                    video_bytes=sample[ext], video_path=f'{url}/{key}.{ext}')
                break
        else:
            for ext in self.image_exts:
                if ext in sample:
                    results.update(
                        img_bytes=sample[ext], img_path=f'{url}/{key}.{ext}')
                    break
            else:
                raise BadSampleError(
                    f'{url}/{key}', 'no video or image member (looked for '
                    f'.{", .".join(self.video_exts + self.image_exts)})')
        path = results.get('video_path', results.get('img_path'))
        try:
            results['text'] = self._caption(sample)
        except _BadRaw as error:
            raise BadSampleError(path, str(error)) from None

    def _caption(self, sample: dict) -> str:
        if self.caption_field is None:
            if 'txt' not in sample:
                raise _BadRaw('no caption (.txt member)')
            text = sample['txt'].decode('utf-8', errors='replace')
        else:
            if 'json' not in sample:
                raise _BadRaw('no .json member for caption_field='
                              f'{self.caption_field!r}')
            try:
                meta = json.loads(sample['json'])
            except ValueError as error:
                raise _BadRaw(f'.json is not valid JSON ({error})') from None
            text = meta.get(self.caption_field) if isinstance(meta,
                                                              dict) else None
            if text is not None and not isinstance(text, str):
                raise _BadRaw(f'.json field {self.caption_field!r} is not a '
                              f'string: {str(text)[:60]}')
        if not text or not text.strip():
            raise _BadRaw('empty caption')
        return text.strip()

    def _skip(self, error: BadSampleError, pending: List[str],
              in_a_row: List[str]) -> None:
        """Log a bad training sample; stop past ``max_refetch`` in a row."""
        error.log('replaced by another sample')
        pending.append(error.path)
        in_a_row.append(error.path)
        if len(in_a_row) > self.max_refetch:
            raise RuntimeError(
                f'{type(self).__name__}: {len(in_a_row)} bad samples in a '
                f'row, giving up: {in_a_row}. Check the shards.')

    def _truncated(self, report: ShardReport, pending: List[str]) -> None:
        message = (f'shard {report.url} is truncated or corrupt: '
                   f'{report.truncated}; stopped after {report.samples} '
                   'samples')
        if self.test_mode and not self.skip_bad:
            raise RuntimeError(
                f'{type(self).__name__} (test mode): {message}. Samples are '
                'never dropped at evaluation; rewrite the shard, or set '
                'skip_bad=True on the dataset.')
        # the shard's summary, logged next, says it was truncated
        pending.append(report.url)

    def _bad_in_test(self, results: dict, error: BadSampleError) -> dict:
        if not self.skip_bad:
            raise RuntimeError(
                f'{type(self).__name__} (test mode): cannot use {error.path}: '
                f'{error.reason}. A sample is never replaced at evaluation; '
                'fix the shard, or set skip_bad=True on the dataset to leave '
                'it out (the metric reports how many were).') from error
        error.log('left out of the evaluation')
        sample = VideoTextDataSample(
            metainfo=dict(
                sample_idx=results['sample_idx'], left_out=error.path))
        return dict(inputs=None, data_samples=sample)

    def __len__(self) -> int:
        """``epoch_length``, over all ranks (``len(loader)``, MMEngine's
        LoggerHook and BadSampleHook's bound read it).

        Raises:
            TypeError: no ``epoch_length``: a stream has no length.
        """
        if self.epoch_length is None:
            raise TypeError(f'{type(self).__name__} without epoch_length '
                            'has no length')
        return self.epoch_length

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({len(self.urls)} shards, '
                f'rank {self.rank}/{self.world_size}, '
                f'shuffle={self.shuffle}, seed={self.seed})')
