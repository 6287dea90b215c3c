"""Text-to-video and video-to-text retrieval recall."""
import logging
from typing import Any, Dict, List, Sequence

import torch
from mmengine.logging import print_log
from torch import Tensor

from alpro.registry import METRICS
from .base_video_text_metric import BaseVideoTextMetric

__all__ = ['RetrievalMetric', 'retrieval_metrics']

#: the recall cut-offs, in percent of queries
RECALL_KS = (1, 5, 10)
#: every key :func:`retrieval_metrics` returns, in order
METRIC_NAMES = ('t2v_r1', 't2v_r5', 't2v_r10', 't2v_medr', 't2v_meanr',
                'v2t_r1', 'v2t_r5', 'v2t_r10', 'v2t_medr', 'v2t_meanr',
                'r_mean')


def _median(values: Tensor) -> float:
    """The median, the mean of the two middle values for an even count
    (``numpy.median``'s rule; ``torch.median`` takes the lower one)."""
    ordered = values.sort().values
    n = ordered.numel()
    return (ordered[(n - 1) // 2] + ordered[n // 2]).item() / 2


def _summary(ranks: Tensor, direction: str) -> Dict[str, float]:
    ranks = ranks.double()
    metrics = {
        f'{direction}_r{k}': (ranks <= k).double().mean().item() * 100
        for k in RECALL_KS
    }
    metrics[f'{direction}_medr'] = _median(ranks)
    metrics[f'{direction}_meanr'] = ranks.mean().item()
    return metrics


def retrieval_metrics(sim_t2v: Tensor,
                      text_to_video: Tensor) -> Dict[str, float]:
    """Recall at 1/5/10, median and mean rank, both directions.

    The ranking core of :class:`RetrievalMetric`, for any score matrix (VTC
    similarities, VTM scores, re-ranked scores): higher means more alike.

    Ranks are 1-based and ties count for the correct item: its rank is
    ``1 + the number of candidates with a STRICTLY higher score``. (A
    constant score matrix thus gives R@1 = 100; a score rule that ties
    often should be broken before it gets here.)

    * text-to-video: each text's query over all videos; the correct video
      is ``text_to_video[i]``.
    * video-to-text: each video's query over all texts; the video is
      retrieved at the BEST rank among its captions (a video with several
      captions, as in MSRVTT's multi-caption test, counts once, by its
      best-ranked caption). Videos without any caption are left out of this
      direction.

    Recalls are percentages; ``t2v_medr`` and ``v2t_medr`` follow
    ``numpy.median`` (the mean of the two middle ranks for an even count);
    ``r_mean`` is the mean of the six recalls.

    Args:
        sim_t2v: ``(Nt, Nv)`` scores of every text against every video.
        text_to_video: ``(Nt,)`` long, the index of each text's video, in
            ``[0, Nv)``.

    Returns:
        ``t2v_r1, t2v_r5, t2v_r10, t2v_medr, t2v_meanr`` and the same with
        ``v2t_``, and ``r_mean``, as floats.
    """
    if sim_t2v.dim() != 2 or text_to_video.shape != sim_t2v.shape[:1]:
        raise ValueError(
            'retrieval_metrics: need sim_t2v (Nt, Nv) and text_to_video '
            f'(Nt,), got {tuple(sim_t2v.shape)} and '
            f'{tuple(text_to_video.shape)}')
    num_texts, num_videos = sim_t2v.shape
    if num_texts == 0 or num_videos == 0:
        raise ValueError('retrieval_metrics: no texts or no videos to rank')
    text_to_video = text_to_video.to(sim_t2v.device, torch.long)
    if text_to_video.min() < 0 or text_to_video.max() >= num_videos:
        raise ValueError(
            f'retrieval_metrics: text_to_video must lie in [0, {num_videos})'
            f', got [{text_to_video.min().item()}, '
            f'{text_to_video.max().item()}]')
    if sim_t2v.isnan().any():
        # NaN compares False: it would pass for a perfect score
        raise ValueError(
            'retrieval_metrics: the scores hold NaN (an all-zero embedding '
            'normalised?)')
    # the score of each text with its own video: (Nt,)
    positive = sim_t2v.gather(1, text_to_video[:, None]).squeeze(1)
    t2v_ranks = (sim_t2v > positive[:, None]).sum(1) + 1

    # A lower rank is a higher score, so a video's best caption is the one
    # it scores highest; rank that score among the video's column.
    best = sim_t2v.new_full((num_videos, ), float('-inf')).scatter_reduce(
        0, text_to_video, positive, reduce='amax')
    v2t_ranks = (sim_t2v > best).sum(0) + 1
    # a video without captions has best = -inf: no rank to report
    has_caption = torch.bincount(text_to_video, minlength=num_videos) > 0
    v2t_ranks = v2t_ranks[has_caption]

    metrics = {**_summary(t2v_ranks, 't2v'), **_summary(v2t_ranks, 'v2t')}
    recalls = [metrics[f'{d}_r{k}'] for d in ('t2v', 'v2t') for k in RECALL_KS]
    metrics['r_mean'] = sum(recalls) / len(recalls)
    return metrics


@METRICS.register_module()
class RetrievalMetric(BaseVideoTextMetric):
    """Text-to-video and video-to-text retrieval recall.

    Each output data sample is one caption, in one of two forms (one form
    per evaluation):

    * embeddings, one (video, caption) pair (a dual encoder's ``'predict'``
      mode): ``video_embed`` ``(D,)`` and ``text_embed`` ``(D,)``
      (L2-normalised, so that their dot product is the cosine similarity)
      and the meta field ``video_id``; captions of the same video share it.
      Videos are deduplicated by ``video_id`` (the first occurrence's
      embedding) and scored by ``text_embeds @ video_embeds.T``;
    * a ranked row (the retrieval loops, after the model's ``rank``):
      ``pred_score`` ``(Nv,)``, the caption's score against every video of
      the split, and ``gt_label``, the index of its own video in that row.

    The score matrix is ranked by :func:`retrieval_metrics` (its docstring
    gives the tie rule and the multi-caption rule).

    Metrics (in percent / ranks): ``t2v_r1, t2v_r5, t2v_r10, t2v_medr,
    t2v_meanr``, the same with ``v2t_``, ``r_mean`` (the mean of the six
    recalls), and ``left_out`` (see :class:`BaseVideoTextMetric`), logged
    as ``retrieval/t2v_r1`` etc.

    Args:
        collect_device: where the ranks' results meet (``'cpu'`` or
            ``'gpu'``).
        prefix: the prefix of the metric names; ``'retrieval'`` when
            ``None``.
        collect_dir: a folder shared by the ranks for ``'cpu'`` collection.
    """

    default_prefix = 'retrieval'

    def process_kept(self, data_batch: Any, data_samples: Sequence) -> None:
        """Keep each caption's fields, on the CPU: its ranked row and its
        video's index, or its pair's video id and both embeddings.

        Args:
            data_batch: the batch from the data loader (unused).
            data_samples: the model's outputs, data samples or their
                ``to_dict()``, each with ``pred_score`` ``(Nv,)`` and
                ``gt_label``, or with ``video_embed`` ``(D,)``,
                ``text_embed`` ``(D,)`` and ``video_id``.
        """
        for sample in data_samples:
            row = sample.get('pred_score')
            if row is not None:
                if sample.get('gt_label') is None:
                    raise KeyError(
                        "RetrievalMetric: an output with a 'pred_score' row "
                        "has no 'gt_label', the index of its own video")
                self.results.append(
                    dict(
                        pred_score=row.detach().cpu().flatten(),
                        gt_label=int(sample.get('gt_label'))))
                continue
            record = {}
            for key in ('video_id', 'video_embed', 'text_embed'):
                # MMEngine's Evaluator hands on each data sample's
                # to_dict(), meta and data fields side by side; a data
                # sample's get() reads both kinds too
                value = sample.get(key)
                if value is None:
                    raise KeyError(
                        f'RetrievalMetric: an output data sample has no '
                        f"'{key}'; the model's predict mode must set "
                        'video_embed and text_embed, and the dataset '
                        'video_id')
                if isinstance(value, Tensor):
                    value = value.detach().cpu().flatten()
                record[key] = value
            self.results.append(record)

    def compute_kept(self, results: List) -> Dict[str, float]:
        """Rank the kept captions: their rows as they are, or their pairs'
        captions against the unique videos.

        Args:
            results: one dict per kept caption, as :meth:`process_kept`
                stores.

        Returns:
            the metrics of :func:`retrieval_metrics`; NaN when every sample
            was left out.
        """
        if not results:
            print_log(
                'RetrievalMetric: no sample to rank, every one was left out',
                logger='current',
                level=logging.WARNING)
            return {name: float('nan') for name in METRIC_NAMES}
        if 'pred_score' in results[0]:
            if not all('pred_score' in r for r in results):
                raise ValueError(
                    'RetrievalMetric: some outputs carry a ranked row '
                    '(pred_score) and some embeddings; one evaluation gives '
                    'one form')
            return retrieval_metrics(
                torch.stack([r['pred_score'] for r in results]),
                torch.tensor([r['gt_label'] for r in results]))
        video_index: Dict[Any, int] = {}
        video_embeds = []
        for result in results:
            if result['video_id'] not in video_index:
                video_index[result['video_id']] = len(video_embeds)
                video_embeds.append(result['video_embed'])
        text_to_video = torch.tensor(
            [video_index[r['video_id']] for r in results], dtype=torch.long)
        # float32 at least: bf16 embeddings would tie many scores
        text_embeds = torch.stack([r['text_embed'] for r in results])
        dtype = torch.promote_types(text_embeds.dtype, torch.float32)
        sim_t2v = text_embeds.to(dtype) @ torch.stack(video_embeds).to(
            dtype).t()
        return retrieval_metrics(sim_t2v, text_to_video)
