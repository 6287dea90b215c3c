"""Find the captions that best describe a video: VTC over the encoded
captions, an optional VTM re-ranking of the top ones."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch
from torch import nn

from .ranking import check_retrieval_model, encode_texts, encode_videos
from .vector_index import ExactIndex
from .video_loader import autocast

__all__ = ['VideoToTextRetrievalInferencer', 'read_captions']


def read_captions(captions: Union[str, Path, Sequence[str]]) -> List[str]:
    """Captions from a text file (one per line) or a list; blank ones are
    refused with their line numbers (1-based)."""
    source = 'captions'
    if isinstance(captions, (str, Path)):
        source = str(captions)
        if not Path(captions).is_file():
            raise FileNotFoundError(f'no caption file {captions}')
        captions = Path(captions).read_text().splitlines()
    captions = [str(c).strip() for c in captions]
    blank = [i + 1 for i, c in enumerate(captions) if not c]
    if blank:
        raise ValueError(f'{source}: blank caption at line(s) '
                         f'{", ".join(map(str, blank[:10]))}'
                         f'{", ..." if len(blank) > 10 else ""}')
    if not captions:
        raise ValueError(f'{source}: no captions')
    return captions


class VideoToTextRetrievalInferencer:
    """Rank a set of captions for videos with a retrieval model.

    The captions are encoded once (``model.encode_text``); each video
    query goes through the model's test pipeline, data preprocessor and
    ``encode_video`` as at evaluation.

    Attributes:
        captions: the candidate captions.

    Args:
        model: a retrieval model from :func:`~alpro.apis.init_model`.
        captions: a text file (one caption per line) or a list.
        amp: bfloat16 autocast on CUDA.
        batch_size: videos per forward pass.
        num_workers: data-loader worker processes decoding videos.
    """

    def __init__(self,
                 model: nn.Module,
                 captions: Union[str, Path, Sequence[str]],
                 *,
                 amp: bool = False,
                 batch_size: int = 8,
                 num_workers: int = 0) -> None:
        check_retrieval_model(model)
        self.model = model
        self.amp = amp
        self.loader_args = dict(batch_size=batch_size, num_workers=num_workers)
        self.captions = read_captions(captions)
        self.tokens, self.mask, self.embed = encode_texts(
            model, self.captions, amp)
        self.index = ExactIndex(self.embed)

    @torch.no_grad()
    def __call__(self,
                 videos: Union[str, Sequence[str]],
                 top_k: int = 5,
                 rerank_k: Optional[int] = None,
                 score: Optional[str] = None) -> List[List[dict]]:
        """The best ``top_k`` captions of each video.

        Args:
            videos: one video file or several.
            top_k: hits per video.
            rerank_k: None: VTC order (``score`` is the VTC similarity);
                K: the top K captions by VTC re-scored by ``model.rank``
                (the evaluation's VTM score of those pairs); the rest
                follow in VTC order, scored as ``rank`` scores the pairs it
                does not re-score (``min(re-scored) - 2 + vtc``).
            score: ``'vtm_prob'`` or ``'vtm_logit+vtc'``; None: the model's.

        Returns:
            per video, ``top_k`` hits best first: ``rank``, ``caption``,
            ``score``, ``vtc``.

        Raises:
            ValueError: a video cannot be decoded (named, with the reason).
        """
        if isinstance(videos, (str, Path)):
            videos = [videos]
        if rerank_k is not None and (not isinstance(rerank_k, int)
                                     or rerank_k < 1):
            raise ValueError(
                f'rerank_k must be None or a positive int, got {rerank_k!r}')
        _, tokens, embed, _, skipped = encode_videos(self.model,
                                                     [str(v) for v in videos],
                                                     self.amp,
                                                     **self.loader_args)
        if skipped:
            raise ValueError(f'cannot use video {skipped[0][0]}: '
                             f'{skipped[0][1]}')
        depth = top_k if rerank_k is None else max(top_k, rerank_k)
        sims, candidates = self.index.search(embed, depth)
        results = []
        for v in range(len(videos)):
            scores = sims[v].clone()
            if rerank_k is not None:
                scores = self._rerank(tokens[v:v + 1], embed[v:v + 1],
                                      candidates[v], sims[v], rerank_k, score)
            order = scores.argsort(descending=True, stable=True)[:top_k]
            results.append([
                dict(
                    rank=r + 1,
                    caption=self.captions[int(candidates[v, i])],
                    score=float(scores[i]),
                    vtc=float(sims[v, i])) for r, i in enumerate(order)
            ])
        return results

    def _rerank(self, video_tokens: torch.Tensor, video_embed: torch.Tensor,
                captions: torch.Tensor, sims: torch.Tensor, rerank_k: int,
                score: Optional[str]) -> torch.Tensor:
        """``(depth,)`` scores of a video's candidate captions: the first
        ``rerank_k`` through ``model.rank``, the others below them."""
        top = captions[:rerank_k]
        with autocast(self.model, self.amp):
            scored = self.model.rank(
                video_tokens,
                video_embed,
                self.tokens[top],
                self.mask[top],
                self.embed[top],
                rerank_k='all',
                score=score)[:, 0].float()
        rest = scored.min() - 2 + sims[rerank_k:]
        return torch.cat([scored, rest])
