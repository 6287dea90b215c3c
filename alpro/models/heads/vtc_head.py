"""Video-text contrastive (VTC) head, with negatives from every rank."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank, get_world_size, is_distributed
from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS
from alpro.utils.distributed import all_gather_with_grad

__all__ = ['VTCHead']


@HEADS.register_module()
class VTCHead(BaseModule):
    """Symmetric InfoNCE between video and text embeddings (ALPRO's VTC).

    ``loss = (CE(v2t logits, positives) + CE(t2v logits, positives)) / 2``
    with logits ``cosine similarity / temp`` and a learnable temperature
    ``temp``. :meth:`forward` gives the logits (a VTM negative sampler
    reuses them), :meth:`loss` the loss of logits.

    Temperature: ``temp`` is clamped IN PLACE to
    ``[min_temperature, max_temperature]`` at each forward (under
    ``no_grad``, as ALPRO does), so that the parameter the optimiser holds
    stays in range; the clamped value is then used with its gradient, which
    keeps flowing at the bounds.

    Distributed: with ``gather=True`` and a world size ``W > 1``, each rank
    scores its ``B`` videos against the texts of ALL ranks and its ``B``
    texts against the videos of all ranks (logits ``(B, W * B)``); features
    are gathered with autograd (:func:`~alpro.utils.all_gather_with_grad`),
    so the gradient of every rank's loss reaches the rank that owns the
    features. Rank ``r``'s positives sit at columns ``r * B + arange(B)``,
    ``r`` being the GLOBAL rank. Averaging the ranks' losses (and DDP
    averaging their parameter gradients) gives the loss and gradients of
    one process on the concatenated batch.

    Every rank must have the same batch size ``B``; this is not checked,
    because knowing the other ranks' sizes takes a collective whose result
    must reach the host before the gather (a device sync at every step),
    and a rank that skipped it would deadlock the others. MMEngine's
    ``DefaultSampler`` (``round_up=True``, the default) pads the dataset to
    a multiple of the world size, so every rank gets equal batches; another
    sampler must do the same, or drop the last batch (``drop_last=True``).
    A mismatch aborts gloo (``gloo::EnforceNotMet``).

    Args:
        temperature: the initial temperature.
        min_temperature: the lower clamp of the temperature.
        max_temperature: the upper clamp of the temperature.
        gather: gather the features of all ranks as negatives when the
            process group has several ranks.
        init_cfg: MMEngine initialisation config (the temperature is set by
            ``temperature``).
    """

    def __init__(self,
                 temperature: float = 0.07,
                 min_temperature: float = 0.001,
                 max_temperature: float = 0.5,
                 gather: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 < min_temperature <= max_temperature:
            raise ValueError(
                'VTCHead: need 0 < min_temperature <= max_temperature, got '
                f'min_temperature={min_temperature}, '
                f'max_temperature={max_temperature}')
        self.min_temperature = float(min_temperature)
        self.max_temperature = float(max_temperature)
        self.gather = gather
        self.temp = nn.Parameter(torch.tensor(float(temperature)))

    @property
    def world_size(self) -> int:
        """The number of ranks whose features the logits cover."""
        if self.gather and is_distributed():
            return get_world_size()
        return 1

    def positive_index(self,
                       batch_size: int,
                       device: Optional[torch.device] = None) -> Tensor:
        """The column of each local row's positive in the logits.

        Args:
            batch_size: ``B``, the local batch size.
            device: where to put the result.

        Returns:
            ``(B,)`` long: ``arange(B) + global_rank * B`` when the logits
            cover all ranks, else ``arange(B)``.
        """
        offset = get_rank() * batch_size if self.world_size > 1 else 0
        return torch.arange(
            offset, offset + batch_size, dtype=torch.long, device=device)

    def clamped_temperature(self) -> Tensor:
        """Clamp ``temp`` in place and return it, differentiable.

        Returns:
            ``()``: the temperature, in ``[min_temperature,
            max_temperature]``.
        """
        with torch.no_grad():
            self.temp.clamp_(self.min_temperature, self.max_temperature)
        # A clone, so that the division saves it rather than the
        # parameter: a second forward before backward (clamp_ bumps the
        # parameter's version) would otherwise break the first graph.
        return self.temp.clone()

    def forward(self, video_feat: Tensor,
                text_feat: Tensor) -> Tuple[Tensor, Tensor]:
        """The temperature-scaled local-vs-global similarity matrices.

        Args:
            video_feat: ``(B, D)`` L2-normalised video embeddings; row ``i``
                matches row ``i`` of ``text_feat``.
            text_feat: ``(B, D)`` L2-normalised text embeddings.

        Returns:
            ``sim_v2t`` ``(B, W * B)``, local videos against the texts of
            all ranks, and ``sim_t2v`` ``(B, W * B)``, local texts against
            the videos of all ranks; both divided by the clamped
            temperature. ``W = 1`` without gathering.
        """
        if video_feat.shape != text_feat.shape or video_feat.dim() != 2:
            raise ValueError(
                'VTCHead: video_feat and text_feat must both be (B, D), got '
                f'{tuple(video_feat.shape)} and {tuple(text_feat.shape)}')
        temp = self.clamped_temperature()
        if self.world_size > 1:
            all_video = all_gather_with_grad(video_feat)
            all_text = all_gather_with_grad(text_feat)
        else:
            all_video, all_text = video_feat, text_feat
        # Score in float32 even under bf16 autocast: a bf16 cosine is off
        # by up to 2 ** -9, which the temperature turns into ~0.03 of a
        # logit at 0.07 and ~2 at 0.001; the product is small
        # (B x W * B x D). The features travel in their own dtype.
        dtype = torch.promote_types(video_feat.dtype, torch.float32)
        with torch.autocast(video_feat.device.type, enabled=False):
            sim_v2t = video_feat.to(dtype) @ all_text.to(dtype).t()
            sim_t2v = text_feat.to(dtype) @ all_video.to(dtype).t()
        return sim_v2t / temp, sim_t2v / temp

    def loss(self, sim_v2t: Tensor, sim_t2v: Tensor) -> Dict[str, Tensor]:
        """The symmetric InfoNCE of :meth:`forward`'s logits (or of logits
        with more columns after them, e.g. order negatives).

        Args:
            sim_v2t: ``(B, W * B + ...)`` video-to-text logits.
            sim_t2v: ``(B, W * B + ...)`` text-to-video logits.

        Returns:
            ``loss_vtc`` ``()``: the mean of the two directions'
            cross-entropies.
        """
        target = self.positive_index(sim_v2t.size(0), sim_v2t.device)
        return dict(
            loss_vtc=(F.cross_entropy(sim_v2t, target) +
                      F.cross_entropy(sim_t2v, target)) / 2)
