"""Video-text matching (VTM) head: its negatives, its loss, its score."""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS, MODELS

__all__ = ['VTMHead']


@HEADS.register_module()
class VTMHead(BaseModule):
    """Classify a fused pair as matched or not, from the fusion [CLS].

    ALPRO's VTM head: one linear layer, class 1 "matched" (ALPRO's
    ``itm_labels``). The head also owns what VTM trains on and how it
    scores:

    * :meth:`sample_negatives`: the negative texts of each video and the
      negative videos of each text, drawn by ``negatives`` (a ``MODELS``
      config, :class:`~alpro.models.samplers.VTMNegativeSampler`: ALPRO's
      hard negatives from softmax(VTC similarity) by default; true matches
      never drawn);
    * :meth:`loss`: ALPRO's cross-entropy, each pair on its own, and with
      ``rank_weight`` > 0 a ranking loss: each caption's match log-odds must
      beat those of its negative videos (a softmax over the caption's list)
      and each clip's those of its negative captions: the order retrieval
      ranks by;
    * :meth:`predict`: the score of fused pairs for retrieval.

    Args:
        in_dims: D, the width of the fusion encoder.
        num_classes: 2 (unmatched, matched).
        negatives: ``MODELS`` config of the negative sampler.
        rank_weight: weight of the ranking loss ``loss_vtm_rank``; 0
            (ALPRO): off.
        init_cfg: MMEngine initialisation; BERT's by default (truncated
            normal, std 0.02, zero bias).
    """

    def __init__(
        self,
        in_dims: int,
        num_classes: int = 2,
        negatives: dict = dict(type='VTMNegativeSampler'),
        rank_weight: float = 0.0,
        init_cfg: Optional[dict] = dict(
            type='TruncNormal', layer='Linear', std=0.02, bias=0.)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if rank_weight < 0:
            raise ValueError(
                f'VTMHead: rank_weight must be >= 0, got {rank_weight}')
        self.in_dims = in_dims
        self.num_classes = num_classes
        self.rank_weight = float(rank_weight)
        self.fc = nn.Linear(in_dims, num_classes)
        self.negatives = MODELS.build(negatives)

    def forward(self, cls_feat: Tensor) -> Tensor:
        """Score pairs.

        Args:
            cls_feat: ``(B, D)`` the fusion encoder's [CLS] output.

        Returns:
            ``(B, num_classes)`` logits.
        """
        return self.fc(cls_feat)

    def sample_negatives(self, sim_v2t: Tensor, sim_t2v: Tensor,
                         true_match: Tensor,
                         vtc_temperature: Tensor) -> Tuple[Tensor, ...]:
        """Draw K negatives per row from the local batch (K: the sampler's
        ``num_negatives``, at most B - 1).

        Args:
            sim_v2t / sim_t2v: ``(B, B)`` VTC logits of the local videos
                against the local texts and back.
            true_match: ``(B, B)`` bool pairs never drawn (the diagonal at
                least).
            vtc_temperature: the temperature the logits were divided by.

        Returns:
            ``neg_text`` ``(K * B,)`` local text indices for the videos,
            ``neg_video`` ``(K * B,)`` local video indices for the texts
            (entry ``k * B + i``: row i's k-th draw), and ``has_text`` /
            ``has_video`` ``(K * B,)`` bool: the draw is a true negative.
        """
        return self.negatives(sim_v2t, sim_t2v, true_match, vtc_temperature)

    def loss(self, pos_cls: Tensor, neg_cls: Tensor, neg_valid: Tensor,
             neg_is_text: Sequence[bool]) -> Dict[str, Tensor]:
        """VTM loss and accuracy.

        Args:
            pos_cls: ``(B, D)`` the fusion [CLS] of the B matched pairs.
            neg_cls: ``(G * B, D)`` that of the negatives: G groups of B,
                group g's row i a negative of pair i.
            neg_valid: ``(G * B,)`` bool, ``False`` for a negative left out
                (no true negative to draw, a reversed clip of a caption
                naming no direction, a caption with no direction word to
                swap).
            neg_is_text: G Python bools: the group holds negative texts of
                the videos (else negative videos of the texts).

        Returns:
            ``loss_vtm``, ``vtm_acc`` and, with ``rank_weight`` > 0,
            ``loss_vtm_rank`` (already weighted).
        """
        logits = self(torch.cat([pos_cls, neg_cls])).float()
        batch = pos_cls.size(0)
        positives = torch.ones(batch, dtype=torch.long, device=logits.device)
        negatives = torch.where(neg_valid, 0, -100).long()
        labels = torch.cat([positives, negatives])
        chosen = labels != -100
        correct = (logits.argmax(-1) == labels) & chosen
        out = dict(
            loss_vtm=F.cross_entropy(logits, labels, ignore_index=-100),
            vtm_acc=correct.sum() / chosen.sum())
        if self.rank_weight:
            log_odds = logits[:, 1] - logits[:, 0]
            pos, neg = log_odds[:batch], log_odds[batch:].view(-1, batch)
            neg = neg.masked_fill(~neg_valid.view(-1, batch), -torch.inf)
            rank_losses = []
            for texts in (False, True):
                groups = [g for g, t in enumerate(neg_is_text) if t == texts]
                if groups:
                    scores = torch.cat([pos.unsqueeze(0), neg[groups]])
                    rank_losses.append(-scores.log_softmax(0)[0].mean())
            out['loss_vtm_rank'] = self.rank_weight * torch.stack(
                rank_losses).mean()
        return out

    def predict(self, cls_feat: Tensor, score: str = 'vtm_prob') -> Tensor:
        """The match score of fused pairs.

        Args:
            cls_feat: ``(P, D)`` the fusion [CLS] of P pairs.
            score: ``'vtm_prob'``, the probability of a match, or
                ``'vtm_logit'``, the match logit.

        Returns:
            ``(P,)`` float32.
        """
        logits = self(cls_feat).float()
        if score == 'vtm_prob':
            return F.softmax(logits, dim=-1)[:, 1]
        if score == 'vtm_logit':
            return logits[:, 1]
        raise ValueError(
            f"score must be 'vtm_prob' or 'vtm_logit', got {score!r}")
