"""Two parameter groups, decayed and not, of the trainable parameters."""
import copy
from typing import Optional

from mmengine.model import is_model_wrapper
from mmengine.registry import OPTIMIZERS
from torch import nn

from alpro.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

__all__ = ['DecayGroupsOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DecayGroupsOptimWrapperConstructor:
    """Build the optimiser over the TRAINABLE parameters, in two groups.

    Weight decay applies to matrices and embeddings; biases, norm weights
    and other parameters of at most one dimension (the VTC temperature)
    go to a group without decay, as ALPRO excludes biases and LayerNorms.
    Frozen parameters (``requires_grad=False``, e.g. a frozen prompter) are
    left out, so that the optimiser neither stores state for them nor walks
    them at each step.

    MMEngine's ``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg``
    makes one parameter group per tensor, which defeats the multi-tensor
    (foreach / fused) AdamW kernels: hundreds of small launches per step.
    Two groups keep the fused kernel's few launches.

    Args:
        optim_wrapper_cfg: the ``optim_wrapper`` config, with
            ``optimizer``.
        paramwise_cfg: not supported (the two groups are the policy); must
            be None.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg:
            raise ValueError(
                'DecayGroupsOptimWrapperConstructor groups parameters itself '
                '(decay for matrices, none for biases and norms); remove '
                'paramwise_cfg or use DefaultOptimWrapperConstructor')
        self.optim_wrapper_cfg = copy.deepcopy(optim_wrapper_cfg)

    def __call__(self, model: nn.Module):
        if is_model_wrapper(model):
            model = model.module
        decay, no_decay = [], []
        for param in model.parameters():
            if param.requires_grad:
                (no_decay if param.ndim <= 1 else decay).append(param)
        wrapper_cfg = copy.deepcopy(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = wrapper_cfg.pop('optimizer')
        optimizer_cfg['params'] = [
            dict(params=decay),
            dict(params=no_decay, weight_decay=0.0)
        ]
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer))
