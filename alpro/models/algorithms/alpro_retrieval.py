"""Text-video retrieval: fine-tuning with VTC + VTM, and ranking every
text against every video with VTC then re-scoring with VTM."""
import time
from typing import Optional, Sequence, Union

import torch
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from alpro.registry import MODELS
from .alpro_pretrainer import AlproPretrainer

__all__ = ['AlproRetrieval']

SCORES = ('vtm_prob', 'vtm_logit+vtc')


def check_policy(rerank_k: Union[int, str], score: str) -> None:
    """Refuse a ranking policy :meth:`AlproRetrieval.rank` does not know."""
    if score not in SCORES:
        raise ValueError(f'score must be one of {SCORES}, got {score!r}')
    if rerank_k != 'all' and (not isinstance(rerank_k, int) or rerank_k < 1):
        raise ValueError(
            f"rerank_k must be 'all' or a positive int, got {rerank_k!r}")


class _Progress:
    """Logs, on the main process, about every tenth of a long re-scoring
    (at least ``min_batches`` fusion passes): pairs done, seconds, ETA.

    Each report waits for the device once (a few reads in all), so that the
    times are real and not those of the host queueing kernels.
    """

    min_batches = 20

    def __init__(self, total: int, batches: int) -> None:
        self.total = total
        self.every = max(1, batches // 10)
        self.on = batches >= self.min_batches and is_main_process()
        self.start = time.perf_counter()

    def update(self, step: int, done: int, last: torch.Tensor) -> None:
        if not self.on or (step + 1) % self.every:
            return
        last.sum().item()  # wait for the device: honest times
        seconds = time.perf_counter() - self.start
        eta = seconds * (self.total - done) / done
        print_log(
            f'AlproRetrieval.rank: {done:,} / {self.total:,} pairs '
            f're-scored, {seconds:.0f} s, eta {eta:.0f} s',
            logger='current')


@MODELS.register_module()
class AlproRetrieval(AlproPretrainer):
    """ALPRO's retrieval model: the stage-2 encoders fine-tuned with VTC and
    VTM (hard negatives as in pre-training).

    Ranking (:meth:`rank`) takes every video and every text encoded ONCE,
    ranks all pairs by VTC similarity (one matrix product), and re-scores
    the top ``rerank_k`` videos of each text with the VTM head through the
    fusion encoder, in batches of ``pair_batch_size`` pairs:

    * ``rerank_k='all'`` scores every pair: the paper's protocol;
    * ``rerank_k=K`` scores only the top K per text; the others keep their
      VTC order below every re-scored pair (a finite score, so that no
      video-to-text ranking meets a tie of unscored pairs).

    The final score of a scored pair is ``score='vtm_prob'`` (the VTM
    probability of a match, the original code's) or ``'vtm_logit+vtc'``
    (the VTM match logit plus the cosine similarity, LAVIS's re-ranking).

    Args:
        rerank_k: ``'all'`` or the number of videos re-scored per text: the
            default of :meth:`rank`'s argument.
        score: ``'vtm_prob'`` or ``'vtm_logit+vtc'``: the default of
            :meth:`rank`'s argument.
        pair_batch_size: pairs per fusion pass when ranking; a ranking of
            20 passes or more logs its progress about every tenth.
        tasks: the fine-tuning tasks (``('vtc', 'vtm')``).
        **kwargs: see :class:`AlproPretrainer` (no prompter; ``test_clips``
            for multi-clip test-time averaging).
    """

    def __init__(self,
                 *args,
                 rerank_k: Union[int, str] = 'all',
                 score: str = 'vtm_prob',
                 pair_batch_size: int = 256,
                 tasks: Sequence[str] = ('vtc', 'vtm'),
                 **kwargs) -> None:
        check_policy(rerank_k, score)
        if 'vtm' not in tasks:
            raise ValueError('retrieval re-scores with the VTM head: keep '
                             "'vtm' in tasks")
        super().__init__(*args, tasks=tasks, **kwargs)
        self.rerank_k = rerank_k
        self.score = score
        self.pair_batch_size = pair_batch_size

    @torch.no_grad()
    def rank(self,
             video_tokens: torch.Tensor,
             video_feat: torch.Tensor,
             text_tokens: torch.Tensor,
             text_mask: torch.Tensor,
             text_feat: torch.Tensor,
             rerank_k: Optional[Union[int, str]] = None,
             score: Optional[str] = None) -> torch.Tensor:
        """Score every text against every video.

        Args:
            video_tokens: ``(Nv, 1 + N, D)`` each video's tokens at the text
                width (:meth:`encode_video`, once per video).
            video_feat: ``(Nv, E)`` the videos' normalised embeddings.
            text_tokens: ``(Nt, L, D)`` each text's tokens
                (:meth:`encode_text`, once per text).
            text_mask: ``(Nt, L)``.
            text_feat: ``(Nt, E)`` the texts' normalised embeddings.
            rerank_k: ``'all'`` or K, the videos re-scored per text;
                ``None``: the model's ``rerank_k``.
            score: ``'vtm_prob'`` or ``'vtm_logit+vtc'``; ``None``: the
                model's ``score``.

        Returns:
            ``(Nt, Nv)`` float scores, higher is better; a pair outside its
            text's top ``rerank_k`` scores ``min(re-scored) - 2 + sim``:
            below every re-scored pair, in VTC order.
        """
        rerank_k = self.rerank_k if rerank_k is None else rerank_k
        score = self.score if score is None else score
        check_policy(rerank_k, score)
        pair_score = 'vtm_prob' if score == 'vtm_prob' else 'vtm_logit'
        # float32 under autocast too: the candidates and the vtm_logit+vtc
        # score must not depend on the evaluation dtype's rounding
        with torch.autocast(text_feat.device.type, enabled=False):
            sim = text_feat.float() @ video_feat.float().t()
        num_videos = sim.size(1)
        k = num_videos if rerank_k == 'all' else min(rerank_k, num_videos)
        top_sim, top_video = sim.topk(k, dim=1)  # (Nt, k)
        pair_text = torch.arange(
            sim.size(0), device=sim.device).repeat_interleave(k)
        pair_video = top_video.flatten()
        scores = []
        starts = range(0, pair_text.numel(), self.pair_batch_size)
        progress = _Progress(pair_text.numel(), len(starts))
        for step, start in enumerate(starts):
            texts = pair_text[start:start + self.pair_batch_size]
            videos = pair_video[start:start + self.pair_batch_size]
            scores.append(
                self.score_pairs(video_tokens[videos], text_tokens[texts],
                                 text_mask[texts], pair_score))
            progress.update(step, start + texts.numel(), scores[-1])
        pair_scores = torch.cat(scores).view_as(top_sim)
        if score == 'vtm_logit+vtc':
            pair_scores = pair_scores + top_sim
        # sim is a cosine in [-1, 1]: the unscored stay below every scored
        # pair, and in VTC order among themselves
        ranked = pair_scores.min() - 2 + sim
        return ranked.scatter_(1, top_video, pair_scores)
