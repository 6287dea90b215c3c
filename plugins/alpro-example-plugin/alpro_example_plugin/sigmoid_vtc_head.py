"""A contrastive head with its own loss: SigLIP's pairwise sigmoid."""
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alpro.models.heads import VTCHead
from alpro.registry import HEADS

__all__ = ['SigmoidVTCHead']


@HEADS.register_module()
class SigmoidVTCHead(VTCHead):
    """VTC with the pairwise sigmoid loss of SigLIP (Zhai et al., 2023) in
    place of the softmax: every (video, text) pair of the gathered batch is
    its own binary decision, ``-log sigmoid(z * (cos / t + bias))`` with
    ``z = 1`` for the positives and ``-1`` for the rest, summed over a row
    and averaged over the rows.

    Everything else is :class:`~alpro.models.heads.VTCHead`'s: the
    temperature and its clamp, the all-rank gather, the similarities the
    VTM head draws its negatives from. Use it with
    ``model.vtc_head = dict(type='SigmoidVTCHead')``.

    Args:
        bias: the initial learnable logit bias (SigLIP: -10, so that the
            many negatives do not dominate the first steps).
        **kwargs: :class:`~alpro.models.heads.VTCHead`'s arguments.
    """

    def __init__(self, bias: float = -10.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bias = nn.Parameter(torch.tensor(float(bias)))

    def loss(self, sim_v2t: Tensor, sim_t2v: Tensor) -> Dict[str, Tensor]:
        """``loss_vtc`` from the ``(B, W * B)`` video-to-text logits (the
        pairwise loss is symmetric: the text-to-video ones add nothing)."""
        batch = sim_v2t.size(0)
        signs = -torch.ones_like(sim_v2t)
        positives = self.positive_index(batch, sim_v2t.device)
        signs[torch.arange(batch, device=sim_v2t.device), positives] = 1
        loss = -F.logsigmoid(signs * (sim_v2t + self.bias)).sum(1).mean()
        return dict(loss_vtc=loss)
