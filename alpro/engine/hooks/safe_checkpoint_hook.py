"""Keep checkpoints loadable under ``torch.load(weights_only=True)``, and
resume from one that loads."""
import os.path as osp

from mmengine.hooks import Hook

from alpro.registry import HOOKS
from alpro.utils.checkpoint import find_resumable_checkpoint
from alpro.utils.safe_objects import from_safe_objects, to_safe_objects

__all__ = ['SafeCheckpointHook']


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Flatten the message hub (``HistoryBuffer``s, numpy values) into
    tensors and plain Python before a checkpoint is saved, and rebuild it
    after one is loaded, so that ``--resume`` works with safe loading.

    With ``--resume`` and no path (``resume=True``, ``load_from=None``),
    MMEngine resumes from the file ``last_checkpoint`` names. If that file
    cannot be loaded (empty, truncated, damaged) the run resumes from the
    newest checkpoint of the work dir that loads instead, with a warning
    naming both; if none loads, it stops with the list of files and why.
    Without a ``last_checkpoint`` file it resumes from the newest checkpoint
    that loads (MMEngine would start afresh and overwrite them).

    Runs first among the hooks on save and on load.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        # MMEngine keeps both settings private; before_run comes before
        # Runner.load_or_resume reads them.
        if not runner._resume or runner._load_from is not None:
            return
        chosen, skipped = find_resumable_checkpoint(runner.work_dir)
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        if not skipped and chosen is not None and not osp.isfile(pointer):
            runner.logger.warning(
                f'--resume: {runner.work_dir} has no last_checkpoint file; '
                f'resuming from {chosen}, its newest checkpoint')
            runner._load_from = chosen
            return
        if not skipped:
            return  # the latest loads, or there is nothing to resume
        problems = '; '.join(f'{path}: {problem}' for path, problem in skipped)
        if chosen is None:
            raise RuntimeError(
                f'--resume: no checkpoint in {runner.work_dir} can be '
                f'loaded ({problems}). Start afresh in another work dir, or '
                'pass --resume PATH to a copy that loads.')
        runner.logger.warning(
            f'--resume: the latest checkpoint {skipped[0][0]} cannot be '
            f'loaded ({skipped[0][1]}); resuming from {chosen}, the newest '
            f'checkpoint that loads. Skipped: {problems}')
        runner._load_from = chosen

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = to_safe_objects(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = from_safe_objects(checkpoint[key])
