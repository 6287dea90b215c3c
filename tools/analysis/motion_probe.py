"""Can a video backbone see which way things move? A supervised probe.

Trains the backbone of a config from its own initialisation, with a linear
head on its video [CLS], to name the direction of motion (8 classes) of the
demo corpus's train clips, then reports on the held-out clips:

* ``accuracy``: the direction (chance 12.5%);
* ``axis_accuracy``: the direction up to its sign (``left`` = ``right``),
  which a model blind to frame order can reach;
* ``sign_accuracy``: of the clips whose axis is right, the share whose sign
  is right too (chance 50%): only a model that sees frame order beats it;
* ``reversed_opposite``: the share of clips whose reversed frames are named
  the opposite direction.

With ``--checkpoint`` the backbone starts from a trained model's weights
(its ``backbone.`` tensors); with ``--frozen`` as well, only the linear head
trains: a linear probe of what the trained model's video [CLS] already holds
about the direction.

The directions are the ``where`` answers of ``annotations/demo_qa``. Each
clip is decoded once (all frames); training samples ``num_frames`` frames at
random offsets within equal segments, evaluation the segment centres.

Example (the demo backbone, and the same with per-frame patches)::

    python tools/analysis/motion_probe.py configs/demo/finetune_msrvtt_ret.py
    python tools/analysis/motion_probe.py \\
        configs/demo/finetune_msrvtt_ret.py \\
        --cfg-options model.backbone.tubelet_size=1
    python tools/analysis/motion_probe.py configs/demo/pretrain.py \\
        --checkpoint work_dirs/pretrain/epoch_10.pth --frozen
"""
import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import decord
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from torch import nn

from alpro.models.data_preprocessors import CLIP_MEAN, CLIP_STD
from alpro.registry import BACKBONES
from alpro.utils import (load_checkpoint_safely, load_state_dict_checked,
                         register_all_modules)

OPPOSITE = {
    'left': 'right',
    'up': 'down',
    'up-left': 'down-right',
    'up-right': 'down-left',
}
OPPOSITE.update({b: a for a, b in OPPOSITE.items()})


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='its model.backbone is probed')
    parser.add_argument(
        '--checkpoint', help="a model checkpoint: its 'backbone.' tensors")
    parser.add_argument(
        '--frozen',
        action='store_true',
        help='train the linear head only (needs --checkpoint)')
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument('--steps', type=int, default=1500)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the figures as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def load_clips(root: Path, split: str) -> Tuple[torch.Tensor, List[str]]:
    """All frames of the clips with a ``where`` question in ``split``.

    Returns:
        ``(N, L, H, W, 3)`` uint8 frames and the N directions.
    """
    ann = root / 'annotations' / 'demo_qa' / f'{split}.jsonl'
    if not ann.is_file():
        raise SystemExit(f'motion_probe: {ann} not found; make the corpus '
                         'with python tools/data/make_demo_data.py --out '
                         f'{root}')
    clips, directions = [], []
    with open(ann, encoding='utf-8') as f:
        for line in f:
            record = json.loads(line)
            if record['answer_type'] != 'where':
                continue
            reader = decord.VideoReader(
                str(root / 'videos' / f"{record['video_id']}.mp4"))
            clips.append(
                torch.from_numpy(
                    reader.get_batch(list(range(len(reader)))).asnumpy()))
            directions.append(record['answer'])
    lengths = {len(clip) for clip in clips}
    if len(lengths) != 1:
        raise SystemExit(f'motion_probe: clips of {sorted(lengths)} frames; '
                         'the probe needs one length')
    return torch.stack(clips), directions


def frame_indices(length: int, num_frames: int,
                  rng: Optional[np.random.Generator]) -> List[int]:
    """One frame per equal segment: at random (``rng``) or its centre."""
    edges = np.linspace(0, length, num_frames + 1)
    if rng is None:
        return [int((a + b) / 2) for a, b in zip(edges[:-1], edges[1:])]
    return [
        int(rng.integers(int(a), max(int(a) + 1, int(b))))
        for a, b in zip(edges[:-1], edges[1:])
    ]


def to_video(frames: torch.Tensor, indices: List[int],
             size: int) -> torch.Tensor:
    """``(B, L, H, W, 3)`` uint8 -> ``(B, 3, T, size, size)`` normalised."""
    video = frames[:, indices].permute(0, 4, 1, 2, 3).float()
    if video.shape[-1] != size:
        B, C, T = video.shape[:3]
        video = F.interpolate(
            video.transpose(1, 2).flatten(0, 1),
            size=(size, size),
            mode='bilinear',
            align_corners=False).reshape(B, T, C, size, size).transpose(1, 2)
    mean = video.new_tensor(CLIP_MEAN).view(1, 3, 1, 1, 1)
    std = video.new_tensor(CLIP_STD).view(1, 3, 1, 1, 1)
    return (video - mean) / std


def probe(backbone: nn.Module, num_frames: int, size: int,
          data: Dict[str, Tuple[torch.Tensor,
                                List[str]]], args: argparse.Namespace) -> dict:
    """Train ``backbone`` + a linear head on the train clips' directions;
    the figures on the held-out clips."""
    names = sorted(OPPOSITE)
    train_frames, train_dirs = data['train']
    labels = torch.tensor([names.index(d) for d in train_dirs])
    head = nn.Linear(backbone.embed_dims, len(names))
    trained = list(head.parameters())
    if not args.frozen:
        trained += list(backbone.parameters())
    optimizer = torch.optim.AdamW(trained, lr=args.lr)
    rng = np.random.default_rng(args.seed)
    length = train_frames.shape[1]
    backbone.train(not args.frozen)
    began = time.perf_counter()
    for _ in range(args.steps):
        batch = torch.from_numpy(rng.integers(0, len(labels), args.batch_size))
        video = to_video(train_frames[batch],
                         frame_indices(length, num_frames, rng), size)
        with torch.set_grad_enabled(not args.frozen):
            cls = backbone(video)[:, 0]
        loss = F.cross_entropy(head(cls), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - began

    test_frames, test_dirs = data['test']
    video = to_video(test_frames, frame_indices(length, num_frames, None),
                     size)
    backbone.eval()
    with torch.no_grad():
        forward = head(backbone(video)[:, 0]).argmax(1).tolist()
        reverse = head(backbone(video.flip(2))[:, 0]).argmax(1).tolist()
    said = [names[i] for i in forward]
    axis = [s in (d, OPPOSITE[d]) for s, d in zip(said, test_dirs)]
    right = [s == d for s, d in zip(said, test_dirs)]
    confusion = {d: {n: 0 for n in names} for d in names}
    for s, d in zip(said, test_dirs):
        confusion[d][s] += 1
    return dict(
        train_clips=len(labels),
        test_clips=len(test_dirs),
        steps=args.steps,
        train_seconds=round(seconds, 1),
        accuracy=float(np.mean(right)),
        axis_accuracy=float(np.mean(axis)),
        sign_accuracy=float(sum(right) / max(sum(axis), 1)),
        reversed_opposite=float(
            np.mean([
                names[r] == OPPOSITE[d] for r, d in zip(reverse, test_dirs)
            ])),
        confusion=confusion)


def load_backbone(backbone: nn.Module, checkpoint: str) -> None:
    """Load a model checkpoint's ``backbone.`` tensors, every one of them
    (a missing or misshapen tensor is an error)."""
    state = load_checkpoint_safely(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    prefix = 'backbone.'
    tensors = {
        key[len(prefix):]: value
        for key, value in state.items() if key.startswith(prefix)
    }
    missing, _ = load_state_dict_checked(backbone, tensors, checkpoint)
    if missing:
        raise SystemExit(f'motion_probe: {checkpoint} lacks backbone tensors '
                         f'{missing}')


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    if args.frozen and not args.checkpoint:
        raise SystemExit('motion_probe: --frozen probes a trained backbone; '
                         'give its --checkpoint')
    backbone = BACKBONES.build(cfg.model.backbone)
    backbone.init_weights()
    if args.checkpoint:
        load_backbone(backbone, args.checkpoint)
    num_frames = cfg.model.backbone.get('num_frames', 4)
    size = cfg.model.backbone.get('img_size', 224)
    root = Path(args.data_root)
    data = {split: load_clips(root, split) for split in ('train', 'test')}
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        frozen=args.frozen,
        backbone=cfg.model.backbone.to_dict(),
        **probe(backbone, num_frames, size, data, args))
    print(f"{result['test_clips']} held-out clips, {args.steps} steps"
          f"{' (linear probe)' if args.frozen else ''} "
          f"({result['train_seconds']} s): direction "
          f"{100 * result['accuracy']:.1f}%, axis "
          f"{100 * result['axis_accuracy']:.1f}%, sign given the axis "
          f"{100 * result['sign_accuracy']:.1f}%, reversed clip named the "
          f"opposite {100 * result['reversed_opposite']:.1f}%")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + '\n')
    return result


if __name__ == '__main__':
    main()
