"""Validation and test loops that rank every text against every video."""
import contextlib
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop

from alpro.evaluation.metrics.retrieval_metric import retrieval_metrics
from alpro.registry import LOOPS
from alpro.utils.dtypes import resolve_dtype

__all__ = ['RetrievalValLoop', 'RetrievalTestLoop']


def encode_split(loop, model) -> Dict[str, list]:
    """Run the loop's dataloader once: every video and every text encoded
    once on this rank (a video met again, e.g. a second caption, is not
    re-encoded), kept on the CPU."""
    videos: Dict[str, tuple] = {}
    texts: List[tuple] = []
    left_out = []
    for idx, data_batch in enumerate(loop.dataloader):
        loop.runner.call_hook(
            f'before_{loop.stage}_iter', batch_idx=idx, data_batch=data_batch)
        left_out += [
            s.metainfo['left_out'] for s in data_batch['data_samples']
            if 'left_out' in s.metainfo
        ]
        with torch.no_grad():
            data = model.data_preprocessor(data_batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            new = [
                i for i, s in enumerate(samples) if s.video_id not in videos
            ]
            if new:
                tokens, feat = model.encode_video(inputs['video'][new])
                for j, i in enumerate(new):
                    videos.setdefault(samples[i].video_id,
                                      (tokens[j].cpu(), feat[j].cpu()))
            text_tokens, text_feat = model.encode_text(inputs['text_ids'],
                                                       inputs['text_mask'])
        for i, sample in enumerate(samples):
            texts.append(
                (sample.sample_idx, sample.video_id, text_tokens[i].cpu(),
                 inputs['text_mask'][i].cpu(), text_feat[i].cpu()))
        loop.runner.call_hook(
            f'after_{loop.stage}_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=None)
    return dict(videos=videos, texts=texts, left_out=left_out)


def rank_split(loop) -> dict:
    """Encode once, gather every rank's share, re-score the pairs of this
    rank's share of the texts, gather the scores, compute the metrics."""
    runner = loop.runner
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    model.eval()
    local = encode_split(loop, model)
    shares = all_gather_object(local)
    videos: Dict[str, tuple] = {}
    for share in shares:
        for video_id, value in share['videos'].items():
            videos.setdefault(video_id, value)
    # one row per caption, in dataset order; duplicates from the padded
    # sampler dropped
    texts = {t[0]: t for share in shares for t in share['texts']}
    texts = [texts[i] for i in sorted(texts)]
    left_out = sorted({p for share in shares for p in share['left_out']})
    video_ids = sorted(videos)
    column = {v: i for i, v in enumerate(video_ids)}
    device = next(model.parameters()).device
    video_tokens = torch.stack([videos[v][0] for v in video_ids]).to(device)
    video_feat = torch.stack([videos[v][1] for v in video_ids]).to(device)
    # this rank re-scores every world_size-th text
    mine = list(range(get_rank(), len(texts), get_world_size()))
    rows = model.rank(video_tokens, video_feat,
                      torch.stack([texts[i][2] for i in mine]).to(device),
                      torch.stack([texts[i][3] for i in mine]).to(device),
                      torch.stack([texts[i][4]
                                   for i in mine]).to(device)).cpu()
    scores = torch.empty(len(texts), len(video_ids))
    for share_rows, share_mine in all_gather_object((rows, mine)):
        scores[share_mine] = share_rows
    text_to_video = torch.tensor([column[t[1]] for t in texts])
    metrics = retrieval_metrics(scores, text_to_video)
    metrics['left_out'] = len(left_out)
    prefix = getattr(loop.evaluator.metrics[0], 'prefix', None) or 'retrieval'
    return {f'{prefix}/{k}': v for k, v in metrics.items()}


class RetrievalLoopMixin:
    """``run`` of the retrieval loops: the hooks of ``stage``, then
    :func:`rank_split`, under autocast when asked.

    Args (after MMEngine's ``runner``, ``dataloader``, ``evaluator``):
        fp16: MMEngine's switch: float16 autocast.
        dtype: ``'bfloat16'`` or ``'float16'``: autocast to that dtype
            (``tools/test.py --amp`` sets bfloat16); ``None`` with ``fp16``
            off: float32. The VTC similarities stay float32 either way.
    """

    stage = 'val'

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator,
                 fp16: bool = False,
                 dtype: Optional[str] = None) -> None:
        self.autocast_dtype = resolve_dtype(
            dtype, (torch.float16, torch.bfloat16),
            f'{type(self).__name__}: dtype') or (torch.float16
                                                 if fp16 else None)
        super().__init__(runner, dataloader, evaluator, fp16=fp16)

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        device = next(self.runner.model.parameters()).device
        return torch.autocast(device.type, dtype=self.autocast_dtype)

    def run(self) -> dict:
        stage = self.stage
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        with self._autocast():
            metrics = rank_split(self)
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics


@LOOPS.register_module()
class RetrievalValLoop(RetrievalLoopMixin, ValLoop):
    """Validation for text-video retrieval models (``AlproRetrieval``).

    Unlike MMEngine's ``ValLoop``, which scores each batch on its own, it
    encodes every video and every text ONCE (sharded over the ranks by the
    sampler), gathers them, ranks all pairs by VTC similarity and re-scores
    them with the model's ``rank`` (VTM over all pairs or the top K, the
    pairs sharded over the ranks), then reports ``retrieval_metrics`` under
    the first metric's prefix (``retrieval/t2v_r1``, ...) plus
    ``left_out``. The config's evaluator names that prefix; its own
    per-batch processing is not used.
    """

    stage = 'val'


@LOOPS.register_module()
class RetrievalTestLoop(RetrievalLoopMixin, TestLoop):
    """The test counterpart of :class:`RetrievalValLoop`."""

    stage = 'test'
