"""Nominal epochs and exact resume for a shard stream under an
iteration-based schedule."""
from typing import List, Optional

from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from alpro.registry import HOOKS

__all__ = ['ShardEpochHook']

#: the checkpoint key of the saved position
KEY = 'shard_stream'


class _ResumedIterator:
    """The loader's iterator for a resumed run: the dataset starts where the
    checkpoint stopped, so the first ``skip`` calls (MMEngine's
    ``IterBasedTrainLoop`` re-reads and decodes every batch before the
    resumed iteration) return ``None`` without reading anything."""

    def __init__(self, iterator: _InfiniteDataloaderIterator,
                 skip: int) -> None:
        self.iterator = iterator
        self.skip = skip

    def __iter__(self) -> '_ResumedIterator':
        return self

    def __next__(self):
        if self.skip:
            self.skip -= 1
            return None
        return next(self.iterator)


@HOOKS.register_module()
class ShardEpochHook(Hook):
    """Advance a :class:`~alpro.datasets.VideoTextShardDataset` with an
    ``epoch_length`` through its nominal epochs under an
    ``IterBasedTrainLoop``, and resume it where the checkpoint stopped.

    Every handed-out sample is tagged ``stream=[epoch, worker, raw,
    handed]``; after each iteration the hook records, per data-loader
    worker, the raw samples consumed and the samples handed out, and the
    worker of the last batch. When every worker has handed out its quota
    the epoch is over: the dataset's epoch advances (reshuffling shards and
    buffers and reseeding the random transforms) before the loader restarts.

    The position goes into the checkpoint as plain ints (loadable with
    ``weights_only=True``): ``epoch``, ``batches`` (in this epoch),
    ``next_worker``, ``num_workers``, and per rank ``raw`` and ``handed``
    lists (gathered from all ranks at the iterations a ``CheckpointHook``
    saves). On ``--resume`` each rank's workers skip the raw samples they had
    consumed, undecoded, and the loader's round-robin restarts at the worker
    whose batch was next, so the batches continue as an uninterrupted run's
    would; MMEngine's own skip (decoding every batch since iteration 0) is
    replaced by the hook.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) saves

    def __init__(self) -> None:
        self.loaded: Optional[dict] = None
        # all ranks' [raw, handed], gathered at an iteration that saves
        self.gathered: Optional[List[list]] = None
        self.gathered_at = -1
        self._start(0, 1)

    def _start(self, epoch: int, num_workers: int) -> None:
        self.epoch, self.batches, self.next_worker = epoch, 0, 0
        self.raw = [0] * num_workers
        self.handed = [0] * num_workers

    @staticmethod
    def _dataset(runner):
        dataset = runner.train_dataloader.dataset
        if getattr(dataset, 'epoch_length', None) is None:
            raise ValueError(
                f'ShardEpochHook needs a train dataset with an epoch_length '
                f'(VideoTextShardDataset(epoch_length=...)); got {dataset!r}')
        return dataset

    def before_train(self, runner) -> None:
        dataset = self._dataset(runner)
        loop = runner.train_loop
        if not isinstance(loop, IterBasedTrainLoop):
            raise TypeError(
                'ShardEpochHook runs under an IterBasedTrainLoop '
                f"(train_cfg=dict(by_epoch=False, ...)); got {type(loop)}")
        if getattr(runner.train_dataloader, 'in_order', True) is False:
            raise ValueError(
                'ShardEpochHook needs a loader that takes batches from its '
                'workers in turn (in_order=True, the default): with '
                'in_order=False the saved position follows timing')
        num_workers = max(1, runner.train_dataloader.num_workers)
        self._start(dataset.epoch, num_workers)
        if runner.iter == 0:
            return
        state = self.loaded
        if state is None:
            runner.logger.warning(
                f'ShardEpochHook: the checkpoint of iteration {runner.iter} '
                'holds no shard stream position; MMEngine re-reads '
                f'{runner.iter} batches from epoch {dataset.epoch}, and the '
                'nominal epochs restart from there')
            return
        rank, world_size = get_dist_info()
        if (state['num_workers'], len(state['raw'])) != (num_workers,
                                                         world_size):
            raise ValueError(
                f'ShardEpochHook: the checkpoint was saved with '
                f"{len(state['raw'])} ranks x {state['num_workers']} "
                f'workers; this run has {world_size} x {num_workers}. '
                'Resume with the same ranks and num_workers.')
        self.epoch, self.batches = state['epoch'], state['batches']
        self.next_worker = state['next_worker']
        self.raw = list(state['raw'][rank])
        self.handed = list(state['handed'][rank])
        dataset.set_position(self.epoch, self.next_worker, self.raw,
                             self.handed)
        # the loader's first iterator was made (and its workers started)
        # before the checkpoint was loaded: drop it, start one from here
        loop.dataloader_iterator = None
        loop.dataloader_iterator = _ResumedIterator(
            _InfiniteDataloaderIterator(loop.dataloader), runner.iter)
        runner.logger.info(
            f'ShardEpochHook: resuming epoch {self.epoch} after '
            f'{self.batches} of its batches (raw samples read per worker '
            f'{self.raw}, handed out {self.handed}); MMEngine\'s '
            f'{runner.iter} skip steps read nothing')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        dataset = self._dataset(runner)
        for sample in data_batch['data_samples']:
            epoch, worker, raw, handed = sample.metainfo['stream']
            if epoch != self.epoch or handed <= self.handed[worker]:
                raise RuntimeError(
                    f'ShardEpochHook: sample {handed} of worker {worker} in '
                    f'epoch {epoch} comes after sample '
                    f'{self.handed[worker]} of epoch {self.epoch}: the '
                    'loader restarted or crossed a nominal epoch (is '
                    'in_order=False?)')
            self.raw[worker], self.handed[worker] = raw, handed
        self.batches += 1
        self.next_worker = (worker + 1) % len(self.raw)
        if all(self.handed[w] == self._consumed(runner, dataset, w)
               for w in range(len(self.raw))):
            runner.logger.info(
                f'ShardEpochHook: nominal epoch {self.epoch} done after '
                f'{self.batches} batches ({sum(self.handed)} samples on '
                'this rank)')
            self._start(self.epoch + 1, len(self.raw))
            dataset.set_epoch(self.epoch)
        if get_dist_info()[1] > 1 and self._will_save(runner):
            self.gathered = all_gather_object([self.raw, self.handed])
            self.gathered_at = runner.iter

    def _consumed(self, runner, dataset, worker: int) -> int:
        """Samples of ``worker`` the loop takes per epoch: its quota, less
        its last partial batch with ``drop_last``."""
        quota = dataset.quota(worker, len(self.raw))
        loader = runner.train_dataloader
        if loader.drop_last and loader.batch_size:
            quota -= quota % loader.batch_size
        return quota

    @staticmethod
    def _will_save(runner) -> bool:
        """A ``CheckpointHook`` saves after this iteration (checkpoints are
        written by rank 0 only: the other ranks' positions must be gathered
        before)."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch:
                continue
            if hook.every_n_train_iters(runner, hook.interval,
                                        hook.save_begin):
                return True
            if hook.save_last and hook.is_last_train_iter(runner):
                return True
        return False

    def state_dict(self, runner) -> dict:
        """The position, plain ints and lists; ``raw`` and ``handed`` per
        rank."""
        per_rank = [[self.raw, self.handed]]
        if get_dist_info()[1] > 1:
            if self.gathered_at == runner.iter:
                per_rank = self.gathered
            else:
                runner.logger.warning(
                    'ShardEpochHook: a checkpoint saved outside the '
                    "iterations of a CheckpointHook holds only rank 0's "
                    'shard stream position; it cannot resume the stream')
        return dict(
            epoch=self.epoch,
            batches=self.batches,
            next_worker=self.next_worker,
            num_workers=len(self.raw),
            raw=[list(r) for r, _ in per_rank],
            handed=[list(h) for _, h in per_rank])

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[KEY] = self.state_dict(runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded = checkpoint.get(KEY)
