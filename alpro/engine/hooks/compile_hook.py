"""Compile the model's loss computation with ``torch.compile`` for
training."""
from typing import Any, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from alpro.registry import HOOKS

__all__ = ['CompileHook', 'compile_method']


def compile_method(model: torch.nn.Module,
                   target: str = 'loss',
                   **compile_kwargs: Any) -> torch.nn.Module:
    """Replace ``model.<target>`` on the instance by its
    ``torch.compile``-d version (``del model.<target>`` undoes it).

    Returns the unwrapped model whose method was compiled.
    """
    if is_model_wrapper(model):
        model = model.module
    if not callable(getattr(model, target, None)):
        raise AttributeError(
            f'CompileHook: {type(model).__name__} has no method '
            f"'{target}' to compile; set CompileHook(target=...) to one of "
            'its methods')
    setattr(model, target,
            torch.compile(getattr(model, target), **compile_kwargs))
    return model


@HOOKS.register_module()
class CompileHook(Hook):
    """``torch.compile`` the model's ``loss`` method before training.

    The method (``target``) of the unwrapped model is replaced, on the
    instance, by its compiled version in ``before_train`` and restored in
    ``after_train``; parameters, state dict keys and checkpoints do not
    change. The backward of the compiled forward is compiled too
    (AOTAutograd); the data preprocessor, the optimiser step and the
    validation loops stay eager. ALPRO's pre-training models (``loss`` of
    ``PrompterPretrainer``, ``AlproPretrainer``, ``AlproRetrieval``) trace
    as one graph, with no graph break (tested with ``fullgraph=True``).

    Why not MMEngine's ``compile=True``: it compiles the whole
    ``train_step``, optimiser included, and TorchDynamo fails inside the
    optimiser (torch 2.14: ``InternalTorchDynamoError: AttributeError:
    'UserDefinedDictVariable' object has no attribute 'items'`` in
    ``param_groups``). ``tools/train.py`` turns a config's ``compile`` into
    this hook.

    Under DDP the inner model is compiled: gradients are all-reduced as in
    eager mode (tested: two gloo processes end with the weights of two
    eager ones), but its backward is one graph, so the buckets are reduced
    after it rather than overlapped with it.

    Args:
        target: the method of the model to compile.
        **compile_kwargs: ``torch.compile`` options (``mode``, ``backend``,
            ``fullgraph``, ``dynamic``, ``options``).
    """

    priority = 'LOW'

    def __init__(self, target: str = 'loss', **compile_kwargs: Any) -> None:
        self.target = target
        self.compile_kwargs = compile_kwargs
        self._model: Optional[torch.nn.Module] = None

    def before_train(self, runner) -> None:
        model = compile_method(runner.model, self.target,
                               **self.compile_kwargs)
        self._model = model
        runner.logger.info(
            f'CompileHook: {type(model).__name__}.{self.target} compiled '
            f'with torch.compile({self.compile_kwargs or ""}); the first '
            'iterations are slow while it compiles')

    def after_train(self, runner) -> None:
        if self._model is not None:
            # drop the instance attribute: the class's method shows again
            self._model.__dict__.pop(self.target, None)
            self._model = None
