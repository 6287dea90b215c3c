"""Text-video retrieval: fine-tuning with VTC + VTM, and ranking every
text against every video with VTC then re-scoring with VTM."""
import time
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from alpro.registry import MODELS
from .alpro_pretrainer import AlproPretrainer

__all__ = ['AlproRetrieval']

SCORES = ('vtm_prob', 'vtm_logit+vtc')


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
        rerank_k: ``'all'`` or the number of videos re-scored per text.
        score: ``'vtm_prob'`` or ``'vtm_logit+vtc'``.
        pair_batch_size: pairs per fusion pass when ranking; a ranking of
            20 passes or more logs its progress about every tenth.
        test_clips: K clips per video at evaluation (multi-clip test-time
            averaging): the clip's frames are K consecutive groups of T
            (``SampleFrames(num_clips=K)``) whose tokens are averaged.
        tasks: the fine-tuning tasks (``('vtc', 'vtm')``).
        **kwargs: see :class:`AlproPretrainer` (no prompter).
    """

    def __init__(self,
                 *args,
                 rerank_k: Union[int, str] = 'all',
                 score: str = 'vtm_prob',
                 pair_batch_size: int = 256,
                 test_clips: int = 1,
                 tasks: Sequence[str] = ('vtc', 'vtm'),
                 **kwargs) -> None:
        if score not in SCORES:
            raise ValueError(f'score must be one of {SCORES}, got {score!r}')
        if rerank_k != 'all' and (not isinstance(rerank_k, int)
                                  or rerank_k < 1):
            raise ValueError(
                f"rerank_k must be 'all' or a positive int, got {rerank_k!r}")
        if 'vtm' not in tasks:
            raise ValueError('retrieval re-scores with the VTM head: keep '
                             "'vtm' in tasks")
        super().__init__(*args, tasks=tasks, **kwargs)
        self.rerank_k = rerank_k
        self.score = score
        self.pair_batch_size = pair_batch_size
        if test_clips < 1:
            raise ValueError(f'test_clips must be >= 1, got {test_clips}')
        self.test_clips = test_clips

    def backbone_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """Tokens ``(B, 1 + N, Dv)``; at evaluation with ``test_clips=K``
        the ``K * T`` frames of each video are K clips, encoded as a batch
        of ``B * K`` and averaged."""
        clips = 1 if self.training else self.test_clips
        if clips == 1:
            return self.backbone(video)
        batch, channels, frames, height, width = video.shape
        if frames % clips:
            raise ValueError(
                f'test_clips={clips} does not divide the {frames} frames of '
                'a video; sample them with SampleFrames(num_clips=...)')
        video = video.view(batch, channels, clips, frames // clips, height,
                           width).transpose(1, 2)
        tokens = self.backbone(video.flatten(0, 1))
        return tokens.view(batch, clips, *tokens.shape[1:]).mean(1)

    @torch.no_grad()
    def rank(self, video_tokens: torch.Tensor, video_feat: torch.Tensor,
             text_tokens: torch.Tensor, text_mask: torch.Tensor,
             text_feat: torch.Tensor) -> torch.Tensor:
        """Score every text against every video.

        Args:
            video_tokens: ``(Nv, 1 + N, D)`` each video's tokens at the text
                width (encoded once).
            video_feat: ``(Nv, E)`` normalised contrastive features.
            text_tokens: ``(Nt, L, D)`` each text's tokens (encoded once).
            text_mask: ``(Nt, L)``.
            text_feat: ``(Nt, E)`` normalised contrastive features.

        Returns:
            ``(Nt, Nv)`` float scores, higher is better; a pair outside its
            text's top ``rerank_k`` scores ``min(re-scored) - 2 + sim``:
            below every re-scored pair, in VTC order.
        """
        # float32 under autocast too: the candidates and the vtm_logit+vtc
        # score must not depend on the evaluation dtype's rounding
        with torch.autocast(text_feat.device.type, enabled=False):
            sim = text_feat.float() @ video_feat.float().t()
        num_videos = sim.size(1)
        k = num_videos if self.rerank_k == 'all' else min(
            self.rerank_k, num_videos)
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
            fused = self.text_encoder.fuse(text_tokens[texts],
                                           text_mask[texts],
                                           video_tokens[videos])
            logits = self.vtm_head(fused[:, 0]).float()
            if self.score == 'vtm_prob':
                scores.append(F.softmax(logits, dim=-1)[:, 1])
            else:
                scores.append(logits[:, 1])
            progress.update(step, start + texts.numel(), scores[-1])
        pair_scores = torch.cat(scores).view_as(top_sim)
        if self.score == 'vtm_logit+vtc':
            pair_scores = pair_scores + top_sim
        # sim is a cosine in [-1, 1]: the unscored stay below every scored
        # pair, and in VTC order among themselves
        ranked = pair_scores.min() - 2 + sim
        return ranked.scatter_(1, top_video, pair_scores)
