"""Prompting entity modeling (PEM) head: region pooling, MLP and loss."""
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS, LOSSES

__all__ = ['PEMHead']

_ACTIVATIONS = dict(gelu=nn.GELU, relu=nn.ReLU)


@HEADS.register_module()
class PEMHead(BaseModule):
    """Predict the entity distribution of a video region.

    The fusion outputs of the region's video patch tokens are mean-pooled
    (:meth:`region_logits`) and scored by an MLP
    ``Linear(D, hidden) -> activation -> Linear(hidden, E)``; :meth:`loss`
    compares them with the prompter's soft pseudo-labels (``loss``, a
    ``LOSSES`` config: the soft cross-entropy over the kept samples). The
    released ALPRO uses ``hidden = 2 * D`` (our default) and ReLU; GELU is
    our default, ``activation='relu'`` reproduces the release.

    Args:
        in_dims: D, the width of the pooled region feature.
        num_entities: E, the number of entity prompts.
        hidden_dims: the MLP's hidden width; ``2 * in_dims`` when None.
        activation: ``'gelu'`` or ``'relu'``.
        loss: ``LOSSES`` config of the loss against soft targets.
        init_cfg: MMEngine initialisation; BERT's by default (truncated
            normal, std 0.02, zero bias).
    """

    def __init__(
        self,
        in_dims: int,
        num_entities: int,
        hidden_dims: Optional[int] = None,
        activation: str = 'gelu',
        loss: dict = dict(type='SoftCrossEntropyLoss'),
        init_cfg: Optional[dict] = dict(
            type='TruncNormal', layer='Linear', std=0.02, bias=0.)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if activation not in _ACTIVATIONS:
            raise ValueError(f'PEMHead: activation must be one of '
                             f'{sorted(_ACTIVATIONS)}, got {activation!r}')
        hidden_dims = 2 * in_dims if hidden_dims is None else hidden_dims
        self.in_dims = in_dims
        self.num_entities = num_entities
        self.mlp = nn.Sequential(
            nn.Linear(in_dims, hidden_dims), _ACTIVATIONS[activation](),
            nn.Linear(hidden_dims, num_entities))
        self.loss_module = LOSSES.build(loss)

    def forward(self, region_feat: Tensor) -> Tensor:
        """Score the entities of each region.

        Args:
            region_feat: ``(B, D)`` fusion outputs mean-pooled over the
                video tokens of the region.

        Returns:
            ``(B, E)`` entity logits.
        """
        return self.mlp(region_feat)

    def region_logits(self, fused: Tensor, text_len: int,
                      region: Tensor) -> Tensor:
        """Entity logits of each clip's region.

        Args:
            fused: ``(B, L + 1 + N, D)`` fusion outputs ``[text ; video
                cls ; patches]``.
            text_len: L.
            region: ``(B, N)`` bool, the region's patches.

        Returns:
            ``(B, E)``: the region's patch outputs, mean-pooled, scored.
        """
        num_patches = region.size(1)
        patches = fused[:, text_len + 1:text_len + 1 + num_patches]
        weights = region.to(patches.dtype).unsqueeze(-1)
        pooled = (patches * weights).sum(1) / weights.sum(1).clamp(min=1)
        return self(pooled)

    def loss(self, fused: Tensor, text_len: int, region: Tensor,
             target_probs: Tensor, keep: Tensor) -> Dict[str, Tensor]:
        """PEM loss, the fraction of samples kept and the pseudo-label
        entropy.

        Args:
            fused / text_len / region: as :meth:`region_logits`.
            target_probs: ``(B, E)`` the prompter's pseudo-labels.
            keep: ``(B,)`` bool, the pseudo-labels over the threshold.

        Returns:
            ``loss_pem``, ``pem_kept`` and ``pem_entropy``.
        """
        logits = self.region_logits(fused, text_len, region)
        entropy = -(target_probs *
                    torch.log(target_probs.clamp(min=1e-12))).sum(-1)
        return dict(
            loss_pem=self.loss_module(logits, target_probs, keep),
            pem_kept=keep.float().mean(),
            pem_entropy=entropy.mean())
