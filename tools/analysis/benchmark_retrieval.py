"""Cost and metrics of text-video retrieval evaluation, three protocols.

Usage:
  python tools/analysis/benchmark_retrieval.py CONFIG CHECKPOINT
      [--rerank-k 128] [--protocols original exact topk]
      [--original-text-batch 64] [--amp] [--device DEV] [--cfg-options ...]

The config's test split (``test_dataloader``) is decoded once (the time
is reported on its own) and its preprocessed inputs kept in memory; the
model (built from the config, the checkpoint loaded through alpro's safe
loader) then evaluates it:

* ``original``: the original ALPRO protocol (``run_video_retrieval.py``):
  for every mini-batch of ``--original-text-batch`` captions, EVERY video
  is encoded again and every (caption, video) pair of the batch goes
  through the fusion encoder and the VTM head; score = VTM probability;
* ``exact``: each video and each caption encoded once, then
  ``model.rank`` with ``rerank_k='all'`` and ``score='vtm_prob'``;
* ``topk``: the same with ``rerank_k=K`` (``--rerank-k``).

For each: wall time, video-encoder rows (videos encoded), text-encoder
rows (captions encoded), fusion pairs scored, and the retrieval metrics.
``exact`` must give the metrics of ``original`` (the same weights, the
same scores): the tool says whether they match (tolerance 1e-4) and exits
with status 1 when they do not.
"""
import argparse
import os.path as osp
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint

from alpro.evaluation.metrics.retrieval_metric import (METRIC_NAMES,
                                                       retrieval_metrics)
from alpro.registry import MODELS
from alpro.utils import register_all_modules

PROTOCOLS = ('original', 'exact', 'topk')
#: the largest metric difference counted as equal
TOLERANCE = 1e-4


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--rerank-k',
        type=int,
        default=128,
        help='videos re-scored per caption by the topk protocol')
    parser.add_argument(
        '--protocols',
        nargs='+',
        choices=PROTOCOLS,
        default=list(PROTOCOLS),
        help='the protocols to run, in this order')
    parser.add_argument(
        '--original-text-batch',
        type=int,
        default=64,
        help='captions per mini-batch of the original protocol (64 in the '
        'release)')
    parser.add_argument(
        '--video-batch',
        type=int,
        default=None,
        help='videos per encoder pass (default: the test batch size)')
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast (CUDA)')
    parser.add_argument('--device', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


class PassCounter:
    """Counts the rows that go through the video encoder, the text layers
    and the fusion layers of a model, by wrapping them.

    ``model.backbone`` gets a forward hook; ``text_encoder.encode_text``
    and ``text_encoder.fuse`` (methods, not ``forward``) are wrapped on the
    instance. :meth:`remove` restores the model.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.counts = dict(videos=0, texts=0, pairs=0)
        self.text_encoder = model.text_encoder
        self.hook = model.backbone.register_forward_hook(self._video_hook)
        self._wrap('encode_text', 'texts')
        self._wrap('fuse', 'pairs')

    def _video_hook(self, module, args, output) -> None:
        self.counts['videos'] += output.size(0)

    def _wrap(self, name: str, key: str) -> None:
        method = getattr(self.text_encoder, name)

        def counted(tokens, *args, **kwargs):
            self.counts[key] += tokens.size(0)
            return method(tokens, *args, **kwargs)

        setattr(self.text_encoder, name, counted)

    def reset(self) -> None:
        for key in self.counts:
            self.counts[key] = 0

    def remove(self) -> None:
        self.hook.remove()
        for name in ('encode_text', 'fuse'):
            self.text_encoder.__dict__.pop(name, None)


def decode_split(cfg: Config, model) -> dict:
    """Decode the test split once and preprocess it.

    Returns:
        ``video`` ``(Nv, ...)``: each distinct video once (sorted by id, as
        the retrieval loops order them), ``text_ids`` and ``text_mask``
        ``(Nt, L)`` (dataset order, padded to one length), and
        ``text_to_video`` ``(Nt,)``, all on the CPU.
    """
    loader = Runner.build_dataloader(cfg.test_dataloader)
    videos: Dict[str, torch.Tensor] = {}
    texts = []
    with torch.no_grad():
        for data_batch in loader:
            data = model.data_preprocessor(data_batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            for i, sample in enumerate(samples):
                if sample.video_id not in videos:
                    videos[sample.video_id] = inputs['video'][i].cpu()
                texts.append((sample.sample_idx, sample.video_id,
                              inputs['text_ids'][i].cpu(),
                              inputs['text_mask'][i].cpu()))
    texts.sort(key=lambda t: t[0])
    video_ids = sorted(videos)
    column = {v: i for i, v in enumerate(video_ids)}
    length = max(t[2].numel() for t in texts)

    def pad(row: torch.Tensor) -> torch.Tensor:
        return F.pad(row, (0, length - row.numel()))

    return dict(
        video=torch.stack([videos[v] for v in video_ids]),
        text_ids=torch.stack([pad(t[2]) for t in texts]),
        text_mask=torch.stack([pad(t[3]) for t in texts]),
        text_to_video=torch.tensor([column[t[1]] for t in texts]))


def _batches(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def encode_videos(model, video: torch.Tensor, batch: int, device):
    """Every video through the video encoder, in batches: tokens at the
    text width and normalised contrastive features."""
    tokens, feats = [], []
    for part in _batches(video.size(0), batch):
        part_tokens, part_feats = model.video_features(video[part].to(device))
        tokens.append(part_tokens)
        feats.append(part_feats)
    return torch.cat(tokens), torch.cat(feats)


def encode_texts(model, text_ids: torch.Tensor, text_mask: torch.Tensor,
                 batch: int, device):
    """Every caption through the text layers, in batches: tokens and
    normalised contrastive features."""
    tokens, feats = [], []
    for part in _batches(text_ids.size(0), batch):
        out = model.text_encoder.encode_text(text_ids[part].to(device),
                                             text_mask[part].to(device))
        feats.append(model.text_features(out))
        tokens.append(out)
    return torch.cat(tokens), torch.cat(feats)


def run_original(model, split: dict, text_batch: int, video_batch: int,
                 device) -> torch.Tensor:
    """The original ALPRO protocol: per caption mini-batch, encode every
    video again and score every pair with the VTM probability."""
    num_texts, num_videos = split['text_ids'].size(0), split['video'].size(0)
    scores = torch.empty(num_texts, num_videos)
    pair_batch = model.pair_batch_size
    for rows in _batches(num_texts, text_batch):
        text_mask = split['text_mask'][rows].to(device)
        text_tokens = model.text_encoder.encode_text(
            split['text_ids'][rows].to(device), text_mask)
        video_tokens, _ = encode_videos(model, split['video'], video_batch,
                                        device)
        count = text_tokens.size(0)
        pair_text = torch.arange(
            count, device=device).repeat_interleave(num_videos)
        pair_video = torch.arange(num_videos, device=device).repeat(count)
        probs = []
        for part in _batches(pair_text.numel(), pair_batch):
            t, v = pair_text[part], pair_video[part]
            fused = model.text_encoder.fuse(text_tokens[t], text_mask[t],
                                            video_tokens[v])
            logits = model.vtm_head(fused[:, 0]).float()
            probs.append(F.softmax(logits, dim=-1)[:, 1])
        scores[rows] = torch.cat(probs).view(count, num_videos).cpu()
    return scores


def run_ranked(model, split: dict, rerank_k: Union[int, str], video_batch: int,
               text_batch: int, device) -> torch.Tensor:
    """Our protocol: each video and caption encoded once, then
    ``model.rank`` with ``rerank_k`` and the VTM probability."""
    video_tokens, video_feat = encode_videos(model, split['video'],
                                             video_batch, device)
    text_mask = split['text_mask'].to(device)
    text_tokens, text_feat = encode_texts(model, split['text_ids'], text_mask,
                                          text_batch, device)
    saved = model.rerank_k, model.score
    model.rerank_k, model.score = rerank_k, 'vtm_prob'
    try:
        return model.rank(video_tokens, video_feat, text_tokens, text_mask,
                          text_feat).cpu()
    finally:
        model.rerank_k, model.score = saved


@contextmanager
def _timed(device) -> Iterator[dict]:
    out = {}
    cuda = str(device).startswith('cuda')
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    yield out
    if cuda:
        torch.cuda.synchronize()
    out['seconds'] = time.perf_counter() - start


def build_model(cfg: Config, checkpoint: str, device: str):
    """Build the config's model and load the checkpoint (safe loader)."""
    register_all_modules()
    with DefaultScope.overwrite_default_scope('alpro'):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def benchmark(cfg: Config,
              checkpoint: str,
              protocols: Sequence[str] = PROTOCOLS,
              rerank_k: int = 128,
              original_text_batch: int = 64,
              video_batch: Optional[int] = None,
              device: Optional[str] = None,
              amp: bool = False) -> dict:
    """Run the protocols on the config's test split.

    Args:
        cfg: the config (its ``model`` and ``test_dataloader``).
        checkpoint: the checkpoint file.
        protocols: which of ``original``, ``exact``, ``topk`` to run.
        rerank_k: K of the ``topk`` protocol.
        original_text_batch: captions per mini-batch of ``original``.
        video_batch: videos (and captions) per encoder pass; default the
            test batch size.
        device: default CUDA when available, else the CPU.
        amp: bf16 autocast (CUDA only).

    Returns:
        ``decode_seconds``, ``num_videos``, ``num_texts`` and, per protocol
        run, a dict of ``seconds``, ``videos``, ``texts``, ``pairs``
        (encoder and fusion rows) and ``metrics``; with both ``original``
        and ``exact``, ``match`` (bool) and ``max_diff``.
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if amp and not str(device).startswith('cuda'):
        raise SystemExit('--amp needs a CUDA device')
    model = build_model(cfg, checkpoint, device)
    batch = video_batch or cfg.test_dataloader.get('batch_size', 16)
    with _timed(device) as decode:
        with DefaultScope.overwrite_default_scope('alpro'):
            split = decode_split(cfg, model)
    result = dict(
        decode_seconds=decode['seconds'],
        num_videos=split['video'].size(0),
        num_texts=split['text_ids'].size(0))
    runs = dict(
        original=lambda: run_original(model, split, original_text_batch, batch,
                                      device),
        exact=lambda: run_ranked(model, split, 'all', batch, batch, device),
        topk=lambda: run_ranked(model, split, rerank_k, batch, batch, device))
    autocast = torch.autocast(
        'cuda', dtype=torch.bfloat16) if amp else nullcontext()
    counter = PassCounter(model)
    try:
        for name in protocols:
            counter.reset()
            with torch.no_grad(), autocast, _timed(device) as timing:
                scores = runs[name]()
            result[name] = dict(
                seconds=timing['seconds'],
                **counter.counts,
                metrics=retrieval_metrics(scores, split['text_to_video']))
    finally:
        counter.remove()
    if 'original' in result and 'exact' in result:
        diff = max(
            abs(result['original']['metrics'][k] -
                result['exact']['metrics'][k]) for k in METRIC_NAMES)
        result['max_diff'] = diff
        result['match'] = diff <= TOLERANCE
    return result


def format_table(result: dict, protocols: Sequence[str], rerank_k: int) -> str:
    """A compact table: one row per protocol."""
    header = (f"{'protocol':<12}{'seconds':>9}{'videos':>9}{'texts':>9}"
              f"{'pairs':>10}{'t2v_r1':>8}{'t2v_r5':>8}{'v2t_r1':>8}"
              f"{'r_mean':>8}")
    lines = [header, '-' * len(header)]
    for name in protocols:
        run = result[name]
        label = f'topk(K={rerank_k})' if name == 'topk' else name
        m = run['metrics']
        lines.append(f"{label:<12}{run['seconds']:>9.3f}{run['videos']:>9d}"
                     f"{run['texts']:>9d}{run['pairs']:>10d}"
                     f"{m['t2v_r1']:>8.2f}{m['t2v_r5']:>8.2f}"
                     f"{m['v2t_r1']:>8.2f}{m['r_mean']:>8.2f}")
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    protocols: List[str] = list(dict.fromkeys(args.protocols))
    result = benchmark(cfg, args.checkpoint, protocols, args.rerank_k,
                       args.original_text_batch, args.video_batch, args.device,
                       args.amp)
    print(f'{osp.basename(args.config)}: {result["num_videos"]} videos, '
          f'{result["num_texts"]} captions, decoded and preprocessed in '
          f'{result["decode_seconds"]:.3f} s (excluded below)')
    for name in protocols:
        metrics = ', '.join(f'{k} {v:.4g}'
                            for k, v in result[name]['metrics'].items())
        print(f'{name}: {metrics}')
    if 'match' in result:
        verdict = 'MATCH' if result['match'] else 'MISMATCH'
        print(f'exact vs original metrics: {verdict} '
              f'(max |diff| {result["max_diff"]:.3g}, tolerance '
              f'{TOLERANCE:g})')
    print(format_table(result, protocols, args.rerank_k))
    if not result.get('match', True):
        sys.exit(1)
    return result


if __name__ == '__main__':
    main()
