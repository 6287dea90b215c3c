"""Cross-entropy against soft targets, over a subset of the batch."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alpro.registry import LOSSES

__all__ = ['SoftCrossEntropyLoss']


@LOSSES.register_module()
class SoftCrossEntropyLoss(nn.Module):
    """``-(target * log_softmax(logits)).sum(-1)``, averaged over kept
    samples: PEM's loss against the prompter's pseudo-labels.

    Samples whose pseudo-label is dropped (``keep`` False) contribute
    nothing, and the mean is over the kept ones only. With none kept the
    loss is 0, still attached to the graph so that ``backward()`` works and
    DDP sees every parameter used; no value is read on the host. The loss
    is computed in float32 (or float64 for float64 inputs), also under
    autocast, because a bf16 log-softmax over many entities is coarse.

    Args:
        loss_weight: a factor on the loss.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self,
                logits: Tensor,
                target_probs: Tensor,
                keep: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            logits: ``(B, E)`` predicted scores.
            target_probs: ``(B, E)`` target distributions (rows sum to 1).
            keep: ``(B,)`` bool, the samples to learn from; all when None.

        Returns:
            ``()``: the loss, float32 (float64 for float64 inputs).
        """
        if logits.shape != target_probs.shape or logits.dim() != 2:
            raise ValueError(
                'SoftCrossEntropyLoss: logits and target_probs must both be '
                f'(B, E), got {tuple(logits.shape)} and '
                f'{tuple(target_probs.shape)}')
        if keep is not None and tuple(keep.shape) != logits.shape[:1]:
            raise ValueError(f'SoftCrossEntropyLoss: keep must be (B,) = '
                             f'({logits.shape[0]},), got {tuple(keep.shape)}')
        dtype = torch.promote_types(logits.dtype, torch.float32)
        with torch.autocast(logits.device.type, enabled=False):
            logits, target_probs = logits.to(dtype), target_probs.to(dtype)
            if keep is not None:
                # Zero a dropped sample's inputs rather than multiplying its
                # loss by 0: a non-finite logit (e.g. a row of -inf) would
                # make 0 * loss, and its gradient, NaN.
                keep = keep.bool()[:, None]
                logits = torch.where(keep, logits, 0)
                target_probs = torch.where(keep, target_probs, 0)
            loss = -(target_probs * F.log_softmax(logits, dim=-1)).sum(-1)
            if keep is None:
                loss = loss.mean()
            else:
                # dropped samples add exactly 0; nothing kept gives 0 / 1,
                # still attached to the graph
                loss = loss.sum() / keep.sum().clamp(min=1).to(dtype)
        return loss * self.loss_weight
