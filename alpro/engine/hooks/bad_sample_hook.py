"""Count, log and bound the bad samples met during training."""
import logging
from typing import Optional, Set

from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from alpro.registry import HOOKS

__all__ = ['BadSampleHook']


@HOOKS.register_module()
class BadSampleHook(Hook):
    """Watch the training batches for bad files and short clips.

    Datasets replace a bad sample by another in training and list the bad
    paths in the replacement's ``replaced`` meta field (see
    ``BaseVideoTextDataset``). This hook logs every such path once, records
    the count as the scalar ``train/bad_samples``, and stops the run when the
    distinct bad files exceed ``max_bad_ratio`` of this rank's share of the
    training set, naming them.

    A training set without a length (a stream of shards,
    ``VideoTextShardDataset``) declares its size as ``num_samples``; when
    that is ``None`` the bad files are counted and logged but not bounded
    (a WARNING says so once).

    Clips with fewer frames than asked are kept (their frames repeat, in
    order; ``short_clip`` meta field): each is logged once and counted as
    ``train/short_clips``.

    Args:
        max_bad_ratio: tolerated fraction of bad files (default 1%).
    """

    priority = 'NORMAL'

    def __init__(self, max_bad_ratio: float = 0.01) -> None:
        self.max_bad_ratio = max_bad_ratio
        self.bad_paths: Set[str] = set()
        self.short_paths: Set[str] = set()
        self._warned_unbounded = False

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        samples = (data_batch or {}).get('data_samples') or []
        self._count_short(runner, samples)
        new = {
            path
            for sample in samples
            for path in sample.metainfo.get('replaced', ())
        } - self.bad_paths
        if not new:
            return
        for path in sorted(new):
            runner.logger.warning(f'bad training sample replaced: {path}')
        self.bad_paths |= new
        runner.message_hub.update_scalar('train/bad_samples',
                                         len(self.bad_paths))
        total = self._dataset_size(runner)
        if total is None:
            return
        share = total / get_world_size()
        if len(self.bad_paths) > self.max_bad_ratio * share:
            listed = '\n  '.join(sorted(self.bad_paths))
            message = (
                f'{len(self.bad_paths)} bad training files, more than '
                f'max_bad_ratio={self.max_bad_ratio} of {int(share)} samples '
                f'seen by this process; fix or remove them, or raise '
                f'max_bad_ratio (default_hooks.bad_samples):\n  {listed}')
            runner.logger.log(logging.ERROR, message)
            raise RuntimeError(message)

    def _dataset_size(self, runner) -> Optional[int]:
        """The training set's size: its length, else its ``num_samples``;
        None (with a WARNING, once) when it declares neither."""
        dataset = runner.train_dataloader.dataset
        try:
            return len(dataset)
        except TypeError:  # a stream without a length
            pass
        total = getattr(dataset, 'num_samples', None)
        if total is None and not self._warned_unbounded:
            self._warned_unbounded = True
            runner.logger.warning(
                f'{type(dataset).__name__} has no length: bad training '
                'samples are counted but max_bad_ratio cannot bound them; '
                'set num_samples on the dataset (stats.json of '
                'tools/data/pack_shards.py has it)')
        return total

    def _count_short(self, runner, samples: list) -> None:
        new = {
            sample.metainfo.get('video_path', '?')
            for sample in samples if sample.metainfo.get('short_clip')
        } - self.short_paths
        if not new:
            return
        for path in sorted(new):
            runner.logger.info(
                f'clip shorter than the frames asked, frames repeated: {path}')
        self.short_paths |= new
        runner.message_hub.update_scalar('train/short_clips',
                                         len(self.short_paths))
