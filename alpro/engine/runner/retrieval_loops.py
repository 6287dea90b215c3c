"""Validation and test loops that rank every text against every video."""
import contextlib
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop

from alpro.registry import LOOPS
from alpro.structures import VideoTextDataSample
from alpro.utils.dtypes import resolve_dtype

__all__ = ['RetrievalValLoop', 'RetrievalTestLoop']


def encode_split(loop, model) -> Dict[str, list]:
    """Run the loop's dataloader once: every video and every text encoded
    once on this rank with the model's ``encode_video`` / ``encode_text``
    (a video met again, e.g. a second caption, is not re-encoded), kept on
    the CPU, and the left-out placeholders the data preprocessor drops."""
    videos: Dict[str, tuple] = {}
    texts: List[tuple] = []
    left_out = []
    for idx, data_batch in enumerate(loop.dataloader):
        loop.runner.call_hook(
            f'before_{loop.stage}_iter', batch_idx=idx, data_batch=data_batch)
        left_out += [
            s for s in data_batch['data_samples'] if 'left_out' in s.metainfo
        ]
        with torch.no_grad():
            data = model.data_preprocessor(data_batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            new = [
                i for i, s in enumerate(samples) if s.video_id not in videos
            ]
            if new:
                tokens, embed = model.encode_video(inputs['video'][new])
                for j, i in enumerate(new):
                    videos.setdefault(samples[i].video_id,
                                      (tokens[j].cpu(), embed[j].cpu()))
            text_tokens, text_embed = model.encode_text(
                inputs['text_ids'], inputs['text_mask'])
        for i, sample in enumerate(samples):
            texts.append(
                (sample.sample_idx, sample.video_id, text_tokens[i].cpu(),
                 inputs['text_mask'][i].cpu(), text_embed[i].cpu()))
        loop.runner.call_hook(
            f'after_{loop.stage}_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=None)
    return dict(videos=videos, texts=texts, left_out=left_out)


def rank_split(loop) -> dict:
    """Encode once, gather every rank's share, rank this rank's share of
    the texts with the model's ``rank`` and hand the rows to the loop's
    ``Evaluator``, which gathers them and computes the metrics.

    The evaluator's records are the texts in dataset order, then the
    left-out placeholders (one per sample, the sampler's padding copies
    dropped); rank r processes records r, r + W, ... (W ranks), whose texts
    are those it re-scored, so that MMEngine's collection, which
    interleaves the ranks' results, gives them back in that order.
    """
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
    # sampler dropped (likewise for the placeholders)
    texts = {t[0]: t for share in shares for t in share['texts']}
    texts = [texts[i] for i in sorted(texts)]
    left_out = {s.sample_idx: s for share in shares for s in share['left_out']}
    left_out = [left_out[i] for i in sorted(left_out)]
    video_ids = sorted(videos)
    column = {v: i for i, v in enumerate(video_ids)}
    device = next(model.parameters()).device
    video_tokens = torch.stack([videos[v][0] for v in video_ids]).to(device)
    video_embed = torch.stack([videos[v][1] for v in video_ids]).to(device)
    rank, world_size = get_rank(), get_world_size()
    # this rank re-scores every world_size-th text
    mine = [texts[i] for i in range(rank, len(texts), world_size)]
    rows = model.rank(video_tokens, video_embed,
                      torch.stack([t[2] for t in mine]).to(device),
                      torch.stack([t[3] for t in mine]).to(device),
                      torch.stack([t[4] for t in mine]).to(device)).cpu()
    ranked = []
    for text, row in zip(mine, rows):
        sample = VideoTextDataSample(
            metainfo=dict(sample_idx=text[0], video_id=text[1]))
        sample.pred_score = row
        sample.gt_label = column[text[1]]
        ranked.append(sample)
    loop.evaluator.process(ranked, dict(data_samples=ranked))
    # the placeholders are records len(texts), len(texts) + 1, ...
    placeholders = [
        sample for i, sample in enumerate(left_out, start=len(texts))
        if i % world_size == rank
    ]
    loop.evaluator.process([], dict(data_samples=placeholders))
    return loop.evaluator.evaluate(len(texts) + len(left_out))


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
    texts sharded over the ranks), then hands each text's row of scores
    (``pred_score``, ``gt_label``: its video's index) and the left-out
    placeholders to the config's evaluator (``RetrievalMetric``:
    ``retrieval/t2v_r1``, ..., ``retrieval/left_out``).
    """

    stage = 'val'


@LOOPS.register_module()
class RetrievalTestLoop(RetrievalLoopMixin, TestLoop):
    """The test counterpart of :class:`RetrievalValLoop`."""

    stage = 'test'
