"""Which pairs video-text matching learns to call unmatched."""
from typing import Optional, Tuple

import torch
from mmengine.logging import MessageHub
from torch import Tensor, nn

from alpro.registry import MODELS

__all__ = ['VTMNegativeSampler']

POLICIES = ('hard', 'random')


@MODELS.register_module()
class VTMNegativeSampler(nn.Module):
    """Draw ``num_negatives`` negative texts per video and as many negative
    videos per text from the local batch (ALPRO: one of each).

    * ``policy='hard'`` (ALPRO): from the softmax of the VTC logits over the
      row's negatives, so the pairs the encoders confuse most are drawn most
      often. ``temperature`` rescales the logits to ``cos / temperature``
      (softer above the VTC temperature); ``None`` keeps VTC's.
    * ``policy='random'``: uniformly among the row's negatives.
    * ``random_iters=N``: the first N training iterations draw at random
      whatever the policy. Fusion layers that start random cannot tell the
      encoders' hardest confusions apart; easy negatives first let them
      learn what a match is. The iteration is the Runner's
      (``MessageHub`` ``'iter'``, so a resumed run continues the schedule;
      outside a Runner it counts as 0), read by :meth:`start_iteration`,
      which the model calls before its loss: outside the loss, so that a
      compiled loss sees a Python flag (one recompilation at the switch).

    A row's negatives are drawn without replacement (one draw is the
    softmax's sample; more are the Gumbel top-k, i.e. drawn one after
    another among those left). A true match is never drawn: the positive
    itself and, with ``exclude_true_matches``, every sample of
    ``true_match`` (another caption of the same video, the same caption of
    another video). A draw past a row's last negative gets an arbitrary
    index and ``False`` in its ``has_*`` mask; the caller leaves that pair
    out of its loss.

    Args:
        policy: ``'hard'`` or ``'random'``.
        temperature: the hard policy's softmax temperature on the cosine
            similarity; ``None``: the VTC temperature.
        random_iters: training iterations drawn at random first.
        exclude_true_matches: never draw a pair ``true_match`` marks.
        num_negatives: K, the negatives drawn per video and per text (at
            most B - 1 of a batch of B are drawn). More negatives give VTM
            more pairs to rank against a match for the price of K fusion
            passes per side; ALPRO draws one.
    """

    def __init__(self,
                 policy: str = 'hard',
                 temperature: Optional[float] = None,
                 random_iters: int = 0,
                 exclude_true_matches: bool = True,
                 num_negatives: int = 1) -> None:
        super().__init__()
        if policy not in POLICIES:
            raise ValueError(f'VTMNegativeSampler: policy must be one of '
                             f'{POLICIES}, got {policy!r}')
        if temperature is not None and temperature <= 0:
            raise ValueError('VTMNegativeSampler: temperature must be '
                             f'positive, got {temperature}')
        if random_iters < 0:
            raise ValueError('VTMNegativeSampler: random_iters must be >= 0, '
                             f'got {random_iters}')
        if num_negatives < 1:
            raise ValueError('VTMNegativeSampler: num_negatives must be >= '
                             f'1, got {num_negatives}')
        self.policy = policy
        self.temperature = temperature
        self.random_iters = int(random_iters)
        self.exclude_true_matches = bool(exclude_true_matches)
        self.num_negatives = int(num_negatives)
        #: whether this iteration draws uniformly (:meth:`start_iteration`)
        self.at_random = policy == 'random' or self.random_iters > 0

    def start_iteration(self) -> None:
        """Choose this iteration's draw from the Runner's iteration."""
        if self.policy == 'random' or not self.random_iters:
            return
        iteration = MessageHub.get_current_instance().get_info('iter') or 0
        self.at_random = iteration < self.random_iters

    @torch.no_grad()
    def forward(self, sim_v2t: Tensor, sim_t2v: Tensor, true_match: Tensor,
                vtc_temperature: Tensor) -> Tuple[Tensor, ...]:
        """Draw the negatives.

        Args:
            sim_v2t / sim_t2v: ``(B, B)`` VTC logits ``cos / vtc_temperature``
                of the local videos against the local texts and back.
            true_match: ``(B, B)`` bool, ``[i, j]`` when video ``i`` and
                text ``j`` match (the diagonal at least).
            vtc_temperature: the temperature the logits were divided by.

        Returns:
            ``neg_text`` ``(K * B,)`` local text indices for the videos,
            ``neg_video`` ``(K * B,)`` local video indices for the texts
            (draw-major: entry ``k * B + i`` is row i's k-th draw, K =
            ``min(num_negatives, B - 1)``), and ``has_text`` / ``has_video``
            ``(K * B,)`` bool: the draw is a true negative.
        """
        batch = sim_v2t.size(0)
        draws = min(self.num_negatives, max(batch - 1, 1))
        eye = torch.eye(batch, dtype=torch.bool, device=sim_v2t.device)
        excluded = eye | true_match if self.exclude_true_matches else eye
        out = []
        for sim, excluded in ((sim_v2t, excluded), (sim_t2v, excluded.t())):
            if self.at_random:
                logits = torch.zeros_like(sim, dtype=torch.float)
            elif self.temperature is None:
                logits = sim.float()
            else:
                logits = sim.float() * (vtc_temperature / self.temperature)
            # Gumbel top-k: the k-th pick is a draw from the softmax over
            # the negatives not picked yet. The positive and the true
            # matches are -inf (as in ALPRO), so however far the positive
            # leads, a row never underflows to zeros; they sort last, so a
            # row runs out of negatives only after its last one.
            uniform = torch.rand_like(logits).clamp(min=1e-20)
            keys = logits - torch.log(-torch.log(uniform))
            keys = keys.masked_fill(excluded, -torch.inf)
            index = keys.topk(draws, dim=1).indices
            has = ~excluded.gather(1, index)
            out.append((index.t().flatten(), has.t().flatten()))
        (neg_text, has_text), (neg_video, has_video) = out
        return neg_text, neg_video, has_text, has_video
