"""Does a trained model do what each objective is for? Three probes on the
held-out split of a config (``test_dataloader``), none of them a loss.

Usage:
  python tools/analysis/objective_probes.py retrieval CONFIG CHECKPOINT
      [--batch 64] [--out FILE.json] [--cfg-options ...]
  python tools/analysis/objective_probes.py qa CONFIG CHECKPOINT
      [--batch 64] [--out FILE.json] [--cfg-options ...]

``retrieval`` (a model with a VTM head: stage 2, fine-tuned retrieval):

* **order**: each caption against its own clip played forward and
  time-reversed. ``order_vtc`` / ``order_vtm``: the fraction of captions
  whose forward clip scores higher (VTC cosine; VTM match probability);
  ``order_embedding_change``: the mean ``1 - cos`` between a clip's
  forward and reversed contrastive features (0: the encoder ignores order).
* **VTM against VTC**: text-to-video R@1, R@5, R@10, mean and median rank
  of the split ranked by the VTC similarity alone and by the VTM match
  probability alone (every pair through the fusion layers), and the VTM
  probability of matched and unmatched pairs. Caption by caption, for each
  R@k: ``vtm_only_r{k}`` captions VTM alone finds within k and VTC alone
  does not, ``vtc_only_r{k}`` the reverse, and ``sign_p_r{k}`` the exact
  two-sided sign test (McNemar's) on those: the chance of a split at least
  this uneven if neither ranked better. ``retrieval_errors.py`` says what
  the top-ranked wrong clips have in common with the caption (demo
  corpus).

``qa`` (a video QA model): accuracy, accuracy per ``answer_type``, and the
same questions with each video replaced by another video of the split
(``shuffled_changed``: the fraction of answers that change; 0 means the
model answers from the question alone).
"""
import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from alpro.evaluation.metrics.retrieval_metric import (RECALL_KS,
                                                       retrieval_metrics)

sys.path.insert(0, str(Path(__file__).resolve().parent))
# isort: off
from benchmark_retrieval import (  # noqa: E402
    build_model, decode_split, encode_texts, encode_videos)
# isort: on


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Probe what a trained model does on its held-out split')
    parser.add_argument('probe', choices=('retrieval', 'qa'))
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


@torch.no_grad()
def match_probability(model, text_tokens: torch.Tensor,
                      text_mask: torch.Tensor, video_tokens: torch.Tensor,
                      batch: int) -> torch.Tensor:
    """VTM match probability of pairs ``(P, L, D)`` x ``(P, 1 + N, D)``,
    in batches of ``batch`` pairs: ``(P,)``."""
    probs = []
    for start in range(0, text_tokens.size(0), batch):
        part = slice(start, start + batch)
        probs.append(
            model.score_pairs(video_tokens[part], text_tokens[part],
                              text_mask[part], 'vtm_prob'))
    return torch.cat(probs)


@torch.no_grad()
def encode_split(model, split: dict, batch: int,
                 device) -> Dict[str, torch.Tensor]:
    """Every video and every text of ``split`` (``decode_split``) through
    the encoders once, on ``device``: ``video_tokens`` ``(Nv, 1 + N, D)``,
    ``video_feat`` ``(Nv, E)``, ``text_tokens`` ``(Nt, L, D)``,
    ``text_mask`` ``(Nt, L)``, ``text_feat`` ``(Nt, E)``."""
    video_tokens, video_feat = encode_videos(model, split['video'], batch,
                                             device)
    text_tokens, text_feat = encode_texts(model, split['text_ids'],
                                          split['text_mask'], batch, device)
    return dict(
        video_tokens=video_tokens,
        video_feat=video_feat,
        text_tokens=text_tokens,
        text_mask=split['text_mask'].to(device),
        text_feat=text_feat)


@torch.no_grad()
def score_matrices(model, encoded: Dict[str, torch.Tensor],
                   batch: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every text against every video of :func:`encode_split`'s output:
    the VTC cosine and the VTM match probability, each ``(Nt, Nv)``."""
    text_feat, video_feat = encoded['text_feat'], encoded['video_feat']
    num_texts, num_videos = text_feat.size(0), video_feat.size(0)
    texts = torch.arange(
        num_texts, device=text_feat.device).repeat_interleave(num_videos)
    videos = torch.arange(
        num_videos, device=text_feat.device).repeat(num_texts)
    vtm = match_probability(model, encoded['text_tokens'][texts],
                            encoded['text_mask'][texts],
                            encoded['video_tokens'][videos],
                            batch).view(num_texts, num_videos)
    return text_feat @ video_feat.t(), vtm


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test: the probability, under a fair coin, of
    a split of ``wins + losses`` discordant items at least as uneven as
    this one (1.0 with none)."""
    trials = wins + losses
    tail = sum(math.comb(trials, k) for k in range(min(wins, losses) + 1))
    return min(1.0, 2 * tail / 2**trials)


def compare_rankings(ranks: Dict[str, torch.Tensor]) -> dict:
    """The captions VTM alone finds within k that VTC alone does not, the
    reverse, and the sign test on the two counts, for k = 1, 5, 10.

    Args:
        ranks: ``{'vtc': (Nt,), 'vtm': (Nt,)}`` 0-based rank of each
            caption's own clip.
    """
    out = {}
    for k in RECALL_KS:
        vtm_hit, vtc_hit = ranks['vtm'] < k, ranks['vtc'] < k
        wins = int((vtm_hit & ~vtc_hit).sum())
        losses = int((vtc_hit & ~vtm_hit).sum())
        out.update({
            f'vtm_only_r{k}': wins,
            f'vtc_only_r{k}': losses,
            f'sign_p_r{k}': sign_test(wins, losses)
        })
    return out


@torch.no_grad()
def probe_retrieval(model, split: dict, batch: int, device) -> dict:
    encoded = encode_split(model, split, batch, device)
    video_tokens, video_feat = encoded['video_tokens'], encoded['video_feat']
    text_tokens, text_mask = encoded['text_tokens'], encoded['text_mask']
    text_feat = encoded['text_feat']
    reversed_tokens, reversed_feat = encode_videos(model,
                                                   split['video'].flip(2),
                                                   batch, device)
    own = split['text_to_video'].to(device)
    num_texts, num_videos = own.numel(), video_feat.size(0)

    forward_vtc = (text_feat * video_feat[own]).sum(-1)
    reversed_vtc = (text_feat * reversed_feat[own]).sum(-1)
    forward_vtm = match_probability(model, text_tokens, text_mask,
                                    video_tokens[own], batch)
    reversed_vtm = match_probability(model, text_tokens, text_mask,
                                     reversed_tokens[own], batch)

    vtc, vtm = score_matrices(model, encoded, batch)
    matched = F.one_hot(own, num_videos).bool()
    ranks, recalls = {}, {}
    for name, scores in (('vtc', vtc), ('vtm', vtm)):
        ranks[name] = (scores > scores.gather(1, own[:, None])).sum(1)
        metrics = retrieval_metrics(scores, own)
        recalls.update({
            f'{key}_{name}': metrics[key]
            for key in metrics if key.startswith('t2v_')
        })
    return dict(
        texts=num_texts,
        videos=num_videos,
        order_vtc=float((forward_vtc > reversed_vtc).float().mean()),
        order_vtm=float((forward_vtm > reversed_vtm).float().mean()),
        order_embedding_change=float(
            (1 - (video_feat * reversed_feat).sum(-1)).mean()),
        **recalls,
        **compare_rankings(ranks),
        vtm_matched=float(vtm[matched].mean()),
        vtm_unmatched=float(vtm[~matched].mean()))


def format_retrieval(r: dict) -> str:
    return '\n'.join([
        f"{r['texts']} captions, {r['videos']} clips",
        f"order: forward clip preferred by VTC for {r['order_vtc']:.1%}, by "
        f"VTM for {r['order_vtm']:.1%} of captions; 1 - cos(forward, "
        f"reversed) = {r['order_embedding_change']:.3g}",
        *(f"t2v {name.upper()} alone: R@1 {r[f't2v_r1_{name}']:.1f}, "
          f"R@5 {r[f't2v_r5_{name}']:.1f}, R@10 {r[f't2v_r10_{name}']:.1f}, "
          f"mean rank {r[f't2v_meanr_{name}']:.2f}, median "
          f"{r[f't2v_medr_{name}']:.0f}" for name in ('vtc', 'vtm')),
        'captions only VTM / only VTC finds within k: ' +
        '; '.join(f"R@{k} {r[f'vtm_only_r{k}']} / {r[f'vtc_only_r{k}']} (sign "
                  f"test p {r[f'sign_p_r{k}']:.2f})" for k in (1, 5, 10)),
        f"VTM match probability {r['vtm_matched']:.3f} (matched) vs "
        f"{r['vtm_unmatched']:.3f} (unmatched)",
    ])


@torch.no_grad()
def probe_qa(model, cfg: Config, device) -> dict:
    """Answers on the split, then with each question's video swapped for
    the next distinct video of the split."""
    batches = []
    for data_batch in Runner.build_dataloader(cfg.test_dataloader):
        data = model.data_preprocessor(data_batch, False)
        batches.append(data)
    video = torch.cat([b['inputs']['video'] for b in batches])
    text_ids = torch.cat([b['inputs']['text_ids'] for b in batches])
    text_mask = torch.cat([b['inputs']['text_mask'] for b in batches])
    samples = [s for b in batches for s in b['data_samples']]
    video_ids = sorted({s.video_id for s in samples})
    first = {}
    for index, sample in enumerate(samples):
        first.setdefault(sample.video_id, index)
    following = {
        v: first[video_ids[(i + 1) % len(video_ids)]]
        for i, v in enumerate(video_ids)
    }
    swapped = torch.tensor([following[s.video_id] for s in samples])

    def answers(clips: torch.Tensor) -> torch.Tensor:
        out = []
        for start in range(0, clips.size(0), 64):
            part = slice(start, start + 64)
            inputs = dict(
                video=clips[part].to(device),
                text_ids=text_ids[part].to(device),
                text_mask=text_mask[part].to(device))
            out.append(model(inputs, mode='tensor').argmax(-1).cpu())
        return torch.cat(out)

    own, shuffled = answers(video), answers(video[swapped])
    labels = torch.tensor([int(s.answer_label) for s in samples])
    kinds: Dict[str, List[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        kinds[str(sample.get('answer_type'))].append(index)
    result = dict(
        questions=len(samples),
        videos=len(video_ids),
        acc=100 * float((own == labels).float().mean()),
        shuffled_acc=100 * float((shuffled == labels).float().mean()),
        shuffled_changed=float((own != shuffled).float().mean()))
    for kind, rows in sorted(kinds.items()):
        rows = torch.tensor(rows)
        result[f'acc_{kind}'] = 100 * float(
            (own[rows] == labels[rows]).float().mean())
        result[f'majority_{kind}'] = 100 * float(
            labels[rows].bincount().max() / rows.numel())
    return result


def format_qa(r: dict) -> str:
    kinds = sorted(k[4:] for k in r if k.startswith('acc_'))
    per_kind = ', '.join(f"{k} {r['acc_' + k]:.1f} (majority answer "
                         f"{r['majority_' + k]:.1f})" for k in kinds)
    return '\n'.join([
        f"{r['questions']} questions on {r['videos']} videos",
        f"accuracy {r['acc']:.1f}: {per_kind}",
        f"videos swapped: {r['shuffled_changed']:.1%} of answers change, "
        f"accuracy {r['shuffled_acc']:.1f}",
    ])


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg, args.checkpoint, args.device)
    if args.probe == 'retrieval':
        if not hasattr(model, 'vtm_head'):
            raise SystemExit('objective_probes retrieval: the model has no '
                             'VTM head (a stage-2 or retrieval config)')
        split = decode_split(cfg, model)
        result = probe_retrieval(model, split, args.batch, args.device)
        print(format_retrieval(result))
    else:
        result = probe_qa(model, cfg, args.device)
        print(format_qa(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
