"""Cost and metrics of text-video retrieval evaluation, three protocols.

Usage:
  python tools/analysis/benchmark_retrieval.py CONFIG CHECKPOINT
      [--rerank-k 128] [--protocols original exact topk]
      [--original-text-batch 64] [--video-batch B] [--amp] [--device DEV]
      [--synthetic NUM_VIDEOS [--captions-per-video C] [--text-length L]]
      [--seed S] [--cfg-options ...]

The config's test split (``test_dataloader``) is decoded once (the time
is reported on its own) and its preprocessed inputs kept in memory; the
model (built from the config, the checkpoint loaded through alpro's safe
loader) then evaluates it.

Offline (a bare machine: no videos, no BERT folder, no tokenizer):
``CHECKPOINT`` ``random`` builds the model with random weights from no
file of the config's (``build_random_model``, seeded by ``--seed``), and
``--synthetic NUM_VIDEOS`` skips decoding: ``synthetic_split`` draws
NUM_VIDEOS clips of the test pipeline's shape ``(C, T, H, W)`` and
``--captions-per-video`` captions of each, of the preprocessor's length
L. The costs and pass counts are then those of a real split of that
size, but the retrieval metrics measure nothing but the agreement between
the protocols (the tool says so). The clips stay on the host in float32,
as decoded ones would: ``Nv * C * T * H * W * 4`` bytes, 4.5 GiB for
MSRVTT-1k (1000 x 3 x 8 x 224 x 224 with the paper's test pipeline).

The protocols:

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
with status 1 when they do not. The last line gives the peak host
memory (resident set) and, on CUDA, the peak device memory allocated.
"""
import argparse
import os.path as osp
import resource
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint

from alpro.evaluation.metrics.retrieval_metric import (METRIC_NAMES,
                                                       retrieval_metrics)
from alpro.registry import MODELS
from alpro.utils import register_all_modules
from alpro.utils.synthetic_inputs import build_random_model, clip_shape

PROTOCOLS = ('original', 'exact', 'topk')
#: the largest metric difference counted as equal
TOLERANCE = 1e-4
#: the CHECKPOINT argument that asks for random weights
RANDOM = 'random'
#: the fewest tokens of a synthetic caption: [CLS], two words, [SEP]
MIN_TEXT_TOKENS = 4


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        help=f"a checkpoint file, or '{RANDOM}': random weights built from "
        f"no file of the config's (a file of that name: ./{RANDOM})")
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
    parser.add_argument(
        '--synthetic',
        type=int,
        metavar='NUM_VIDEOS',
        help='decode nothing: a random split of NUM_VIDEOS clips of the '
        "test pipeline's shape")
    parser.add_argument(
        '--captions-per-video',
        type=int,
        default=1,
        help='captions of each synthetic video')
    parser.add_argument(
        '--text-length',
        type=int,
        default=None,
        help="L of the synthetic captions (default: the data preprocessor's "
        'max_length)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the synthetic split and of the random weights')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.synthetic is None:
        if args.captions_per_video != 1 or args.text_length is not None:
            parser.error('--captions-per-video and --text-length shape the '
                         'synthetic split: add --synthetic NUM_VIDEOS')
    elif args.synthetic < 1 or args.captions_per_video < 1:
        parser.error('--synthetic and --captions-per-video must be >= 1')
    return args


class PassCounter:
    """Counts the rows that go through the video encoder, the text layers
    and the fusion layers of a model, by forward hooks on
    ``model.backbone``, the text encoder's embeddings (the first module of
    the text layers) and its first fusion layer. :meth:`remove` removes
    them.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.counts = dict(videos=0, texts=0, pairs=0)
        encoder = model.text_encoder
        self.hooks = [
            self._count(model.backbone, 'videos'),
            self._count(encoder.bert.embeddings, 'texts'),
            self._count(encoder.bert.encoder.layer[encoder.fusion_layer],
                        'pairs')
        ]

    def _count(self, module: torch.nn.Module, key: str):

        def hook(module, args, output) -> None:
            # a BertLayer returns a tuple in transformers 4
            out = output[0] if isinstance(output, tuple) else output
            self.counts[key] += out.size(0)

        return module.register_forward_hook(hook)

    def reset(self) -> None:
        for key in self.counts:
            self.counts[key] = 0

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()


def decode_split(cfg: Config, model) -> dict:
    """Decode the test split once and preprocess it.

    Returns:
        ``video`` ``(Nv, ...)``: each distinct video once (sorted by id, as
        the retrieval loops order them), ``text_ids`` and ``text_mask``
        ``(Nt, L)`` (dataset order, padded to one length), and
        ``text_to_video`` ``(Nt,)``, all on the CPU, and ``video_ids``,
        the id of each video.
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
        text_to_video=torch.tensor([column[t[1]] for t in texts]),
        video_ids=video_ids)


def split_clip_shape(cfg: Config) -> Tuple[int, int, int]:
    """``(T, H, W)`` of the test split's clips: T the frames of the test
    pipeline's ``SampleFrames`` (``num_frames`` x ``num_clips``; the
    backbone's ``num_frames`` without one), H and W the backbone's
    ``img_size`` (the test crop)."""
    frames, height, width = clip_shape(cfg)
    pipeline = cfg.test_dataloader.get('dataset', {}).get('pipeline') or []
    for transform in pipeline:
        if transform.get('type') == 'SampleFrames':
            frames = transform['num_frames'] * transform.get('num_clips', 1)
            break
    return frames, height, width


def synthetic_split(preprocessor: torch.nn.Module,
                    shape: Tuple[int, int, int],
                    num_videos: int,
                    captions_per_video: int = 1,
                    text_length: Optional[int] = None,
                    seed: int = 0) -> dict:
    """A split of the shapes ``preprocessor`` gives, nothing decoded.

    Clips: random 0-255 pixels normalised with the preprocessor's mean and
    std, in place (the only copy). Captions: ``[CLS] w ... w [SEP]
    [PAD] ...``, the words random non-special ids of its tokenizer, the
    length (special tokens included) uniform in ``[MIN_TEXT_TOKENS, L]``.

    Args:
        preprocessor: the model's ``VideoTextDataPreprocessor`` (its
            ``mean``, ``std``, ``tokenizer`` and ``max_length``).
        shape: ``(T, H, W)`` of a clip.
        num_videos: Nv.
        captions_per_video: captions of each video; Nt = Nv x this.
        text_length: L; default the preprocessor's ``max_length``.
        seed: seeds every draw.

    Returns:
        as :func:`decode_split`: ``video`` float ``(Nv, C, T, H, W)``,
        ``text_ids`` and ``text_mask`` long ``(Nt, L)``, ``text_to_video``
        ``(Nt,)`` (caption i describes video ``i // captions_per_video``),
        all on the CPU.
    """
    length = text_length or preprocessor.max_length
    if length < 2:
        raise ValueError(f'text length {length}: needs >= 2 ([CLS], [SEP])')
    generator = torch.Generator().manual_seed(seed)
    mean, std = preprocessor.mean.cpu(), preprocessor.std.cpu()
    video = torch.empty(num_videos, mean.size(1), *shape)
    video.random_(0, 256, generator=generator).sub_(mean).div_(std)

    tokenizer = preprocessor.tokenizer
    special = set(tokenizer.all_special_ids)
    words = torch.tensor(
        [i for i in range(len(tokenizer)) if i not in special])
    num_texts = num_videos * captions_per_video
    ids = words[torch.randint(
        len(words), (num_texts, length), generator=generator)]
    lengths = torch.randint(
        min(MIN_TEXT_TOKENS, length),
        length + 1, (num_texts, ),
        generator=generator)
    mask = torch.arange(length) < lengths[:, None]
    ids[:, 0] = tokenizer.cls_token_id
    ids[torch.arange(num_texts), lengths - 1] = tokenizer.sep_token_id
    ids[~mask] = tokenizer.pad_token_id
    return dict(
        video=video,
        text_ids=ids,
        text_mask=mask.long(),
        text_to_video=torch.arange(num_videos).repeat_interleave(
            captions_per_video))


def _batches(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def encode_videos(model, video: torch.Tensor, batch: int, device):
    """Every video through ``model.encode_video``, in batches: tokens at the
    text width and normalised embeddings."""
    tokens, embeds = [], []
    for part in _batches(video.size(0), batch):
        part_tokens, part_embeds = model.encode_video(video[part].to(device))
        tokens.append(part_tokens)
        embeds.append(part_embeds)
    return torch.cat(tokens), torch.cat(embeds)


def encode_texts(model, text_ids: torch.Tensor, text_mask: torch.Tensor,
                 batch: int, device):
    """Every caption through ``model.encode_text``, in batches: tokens and
    normalised embeddings."""
    tokens, embeds = [], []
    for part in _batches(text_ids.size(0), batch):
        part_tokens, part_embeds = model.encode_text(
            text_ids[part].to(device), text_mask[part].to(device))
        tokens.append(part_tokens)
        embeds.append(part_embeds)
    return torch.cat(tokens), torch.cat(embeds)


def run_original(model, split: dict, text_batch: int, video_batch: int,
                 device) -> torch.Tensor:
    """The original ALPRO protocol: per caption mini-batch, encode every
    video again and score every pair with the VTM probability."""
    num_texts, num_videos = split['text_ids'].size(0), split['video'].size(0)
    scores = torch.empty(num_texts, num_videos)
    pair_batch = model.pair_batch_size
    for rows in _batches(num_texts, text_batch):
        text_mask = split['text_mask'][rows].to(device)
        text_tokens, _ = model.encode_text(split['text_ids'][rows].to(device),
                                           text_mask)
        video_tokens, _ = encode_videos(model, split['video'], video_batch,
                                        device)
        count = text_tokens.size(0)
        pair_text = torch.arange(
            count, device=device).repeat_interleave(num_videos)
        pair_video = torch.arange(num_videos, device=device).repeat(count)
        probs = []
        for part in _batches(pair_text.numel(), pair_batch):
            t, v = pair_text[part], pair_video[part]
            probs.append(
                model.score_pairs(video_tokens[v], text_tokens[t],
                                  text_mask[t], 'vtm_prob'))
        scores[rows] = torch.cat(probs).view(count, num_videos).cpu()
    return scores


def run_ranked(model, split: dict, rerank_k: Union[int, str], video_batch: int,
               text_batch: int, device) -> torch.Tensor:
    """Our protocol: each video and caption encoded once, then
    ``model.rank`` with ``rerank_k`` and the VTM probability."""
    video_tokens, video_embed = encode_videos(model, split['video'],
                                              video_batch, device)
    text_mask = split['text_mask'].to(device)
    text_tokens, text_embed = encode_texts(model, split['text_ids'], text_mask,
                                           text_batch, device)
    return model.rank(
        video_tokens,
        video_embed,
        text_tokens,
        text_mask,
        text_embed,
        rerank_k=rerank_k,
        score='vtm_prob').cpu()


def warm_up(model, split: dict, batch: int, device) -> None:
    """One small pass of each protocol's work (untimed): the first call of
    a kernel pays one-off costs (library handles, kernel selection) that
    would otherwise be charged to whichever protocol runs first."""
    few = {
        key: split[key][:batch]
        for key in ('video', 'text_ids', 'text_mask')
    }
    run_ranked(model, few, 'all', batch, batch, device)


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


def build_model(cfg: Config, checkpoint: str, device: str, seed: int = 0):
    """Build the config's model and load the checkpoint (safe loader); with
    ``checkpoint='random'``, random weights (torch seeded with ``seed``)
    from no file of the config's: a synthetic tokenizer, no BERT folder."""
    if checkpoint == RANDOM:
        torch.manual_seed(seed)
        return build_random_model(cfg, device).eval()
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
              amp: bool = False,
              synthetic: Optional[int] = None,
              captions_per_video: int = 1,
              text_length: Optional[int] = None,
              seed: int = 0) -> dict:
    """Run the protocols on the config's test split, or a synthetic one.

    Args:
        cfg: the config (its ``model`` and ``test_dataloader``).
        checkpoint: the checkpoint file, or ``'random'`` (random weights).
        protocols: which of ``original``, ``exact``, ``topk`` to run.
        rerank_k: K of the ``topk`` protocol.
        original_text_batch: captions per mini-batch of ``original``.
        video_batch: videos (and captions) per encoder pass; default the
            test batch size.
        device: default CUDA when available, else the CPU.
        amp: bf16 autocast (CUDA only).
        synthetic: Nv: decode nothing, draw a split of Nv videos
            (:func:`synthetic_split`, clips of :func:`split_clip_shape`).
        captions_per_video: captions of each synthetic video.
        text_length: L of the synthetic captions (default the
            preprocessor's ``max_length``).
        seed: seeds the synthetic split and the random weights.

    Returns:
        ``split_seconds`` (decoding or drawing the split), ``num_videos``,
        ``num_texts``, ``synthetic`` and ``random_weights`` (bools) and,
        per protocol run, a dict of ``seconds``, ``videos``, ``texts``,
        ``pairs`` (encoder and fusion rows) and ``metrics``; with both
        ``original`` and ``exact``, ``match`` (bool) and ``max_diff``.
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if amp and not str(device).startswith('cuda'):
        raise SystemExit('--amp needs a CUDA device')
    model = build_model(cfg, checkpoint, device, seed)
    batch = video_batch or cfg.test_dataloader.get('batch_size', 16)
    if synthetic:
        length = text_length or model.data_preprocessor.max_length
        limit = model.text_encoder.bert.config.max_position_embeddings
        if not 2 <= length <= limit:
            raise SystemExit(f'--text-length {length}: must lie in [2, '
                             f"{limit}] (the text encoder's "
                             'max_position_embeddings)')
    with _timed(device) as timing:
        if synthetic:
            split = synthetic_split(model.data_preprocessor,
                                    split_clip_shape(cfg), synthetic,
                                    captions_per_video, length, seed)
        else:
            with DefaultScope.overwrite_default_scope('alpro'):
                split = decode_split(cfg, model)
    result = dict(
        split_seconds=timing['seconds'],
        num_videos=split['video'].size(0),
        num_texts=split['text_ids'].size(0),
        synthetic=bool(synthetic),
        random_weights=checkpoint == RANDOM)
    runs = dict(
        original=lambda: run_original(model, split, original_text_batch, batch,
                                      device),
        exact=lambda: run_ranked(model, split, 'all', batch, batch, device),
        topk=lambda: run_ranked(model, split, rerank_k, batch, batch, device))
    autocast = torch.autocast(
        'cuda', dtype=torch.bfloat16) if amp else nullcontext()
    with torch.no_grad(), autocast:
        warm_up(model, split, batch, device)
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
    result = benchmark(
        cfg,
        args.checkpoint,
        protocols,
        args.rerank_k,
        args.original_text_batch,
        args.video_batch,
        args.device,
        args.amp,
        synthetic=args.synthetic,
        captions_per_video=args.captions_per_video,
        text_length=args.text_length,
        seed=args.seed)
    made = (f'SYNTHETIC (seed {args.seed}), drawn'
            if result['synthetic'] else 'decoded and preprocessed')
    print(f'{osp.basename(args.config)}: {result["num_videos"]} videos, '
          f'{result["num_texts"]} captions, {made} in '
          f'{result["split_seconds"]:.3f} s (excluded below)')
    fake = []
    if result['synthetic']:
        fake.append('a synthetic split')
    if result['random_weights']:
        fake.append(f'random weights (seed {args.seed})')
    if fake:
        print(f'NOTE: {" and ".join(fake)}: the metrics below measure '
              'nothing but the agreement between protocols; the times and '
              'pass counts are those of a real split of this size')
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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    device_peak = (f', device {torch.cuda.max_memory_allocated() / 2**30:.2f}'
                   ' GiB' if torch.cuda.is_initialized() else '')
    print(f'peak memory: host {peak:.2f} GiB{device_peak}')
    if not result.get('match', True):
        sys.exit(1)
    return result


if __name__ == '__main__':
    main()
