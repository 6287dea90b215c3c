"""Compute the entity prompt embeddings once per run, before the loops."""
from typing import List

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from alpro.models.prompters.entity_prompter import EntityPrompter
from alpro.registry import HOOKS

__all__ = ['PromptCacheHook']


@HOOKS.register_module()
class PromptCacheHook(Hook):
    """Build the cache of every :class:`EntityPrompter` in the model.

    ``before_train``, ``before_val`` and ``before_test`` call
    ``build_cache()`` on each ``EntityPrompter`` of the (unwrapped) model
    and log the entity count and whether the embeddings were computed or
    reused; the cache's key makes the later calls free (e.g.
    ``before_val`` during training) unless the weights, tokenizer,
    entities or templates changed.

    Order (checked in MMEngine 0.10.7, ``mmengine/runner/runner.py`` and
    ``loops.py``): ``Runner.train()`` calls ``before_run``, then
    ``_init_model_weights()`` (the prompter's checkpoint is loaded in
    ``EntityPrompter.init_weights()``), then ``load_or_resume()``
    (``load_from`` / ``resume``), and only then ``train_loop.run()``, whose
    first act is ``call_hook('before_train')``. ``Runner.val()`` and
    ``Runner.test()`` call ``load_or_resume()`` then the loop, which starts
    with ``before_val`` / ``before_test``. So every weight is final when
    this hook runs, whatever its priority; the model is also already on
    its device (the Runner moves and wraps it when it is built). The
    priority is ``NORMAL``, so the cache exists before the lower-priority
    hooks' ``before_train``.
    """

    priority = 'NORMAL'

    @staticmethod
    def entity_prompters(model) -> List[EntityPrompter]:
        """Every :class:`EntityPrompter` inside ``model`` (unwrapped)."""
        if is_model_wrapper(model):
            model = model.module
        return [m for m in model.modules() if isinstance(m, EntityPrompter)]

    def _build(self, runner, stage: str) -> None:
        prompters = self.entity_prompters(runner.model)
        if not prompters:
            runner.logger.warning(
                f'PromptCacheHook ({stage}): the model holds no '
                'EntityPrompter; nothing to cache')
            return
        for prompter in prompters:
            rebuilt = prompter.build_cache()
            action = 'computed' if rebuilt else 'up to date, reused'
            runner.logger.info(
                f'PromptCacheHook ({stage}): entity prompt embeddings of '
                f'{prompter.num_classes} entities x '
                f'{len(prompter.video_templates)} video / '
                f'{len(prompter.image_templates)} image templates '
                f'{action} (key {prompter.cache_key[:12]})')

    def before_train(self, runner) -> None:
        self._build(runner, 'before_train')

    def before_val(self, runner) -> None:
        self._build(runner, 'before_val')

    def before_test(self, runner) -> None:
        self._build(runner, 'before_test')
