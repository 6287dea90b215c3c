"""The measured effect of alpro's three intended departures from the
released ALPRO code, on a stage-2 model and its training data.

Usage:
  python tools/analysis/release_departures.py CONFIG CHECKPOINT
      [--num-batches 8] [--nodes 2] [--gpus-per-node 2] [--seed 0]
      [--out FILE.json] [--cfg-options ...]

CONFIG is a stage-2 (``AlproPretrainer``) config with an ``EntityPrompter``;
CHECKPOINT its trained weights. ``--num-batches`` batches of the config's
``train_dataloader`` go through its data preprocessor in training mode (the
PEM crops and regions of a training step) and the model in eval mode:

1. **PEM keep mask.** The paper keeps a pseudo-label when its largest
   probability is at least the threshold (ours); the release computes
   ``argmax(sim) < 0.2`` on the arg-max INDEX, so it drops exactly the
   samples whose top entity is entity 0. Printed: the fraction each rule
   keeps and how often they agree.
2. **Entity embeddings.** Ours L2-normalises each entity's mean over its
   templates; the release keeps the plain mean, whose norm (printed) scales
   that entity's logits. The prompter is built a second time with
   ``renormalize_entities=False``; printed: the largest difference of the
   pseudo-label probabilities and how often the top entity and the keep
   decision agree.
3. **VTC targets.** Each rank's logits cover the gathered features of all
   ranks; ours puts the positives at the GLOBAL rank, the release at
   Horovod's ``local_rank`` (the rank within a node). The contrastive
   features of the batches are split over ``--nodes`` x
   ``--gpus-per-node`` simulated ranks; printed: each rule's mean VTC loss
   on the ranks of the first node and of the others, and the fraction of
   targets that point at the sample's own pair.
"""
import argparse
import json
from typing import Dict, Iterator, List

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint
from torch import Tensor

from alpro.registry import MODELS, PROMPTERS
from alpro.utils import register_all_modules


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Measure the departures from the released ALPRO code')
    parser.add_argument('config', help='a stage-2 (AlproPretrainer) config')
    parser.add_argument('checkpoint', help='its trained weights')
    parser.add_argument('--num-batches', type=int, default=8)
    parser.add_argument('--nodes', type=int, default=2)
    parser.add_argument('--gpus-per-node', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the figures as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.num_batches < 1 or args.nodes < 1 or args.gpus_per_node < 1:
        parser.error('--num-batches, --nodes and --gpus-per-node must be '
                     'at least 1')
    return args


def keep_rules(probs: Tensor, threshold: float) -> Dict[str, Tensor]:
    """The two keep decisions of ``(B, E)`` pseudo-labels: ``paper``, the
    largest probability at least ``threshold``; ``release``, the arg-max
    index not below 0.2 (i.e. not entity 0). ``(B,)`` bool each."""
    return dict(
        paper=probs.max(-1).values >= threshold,
        release=probs.argmax(-1) >= 0.2)


def vtc_rank_losses(video_feat: Tensor, text_feat: Tensor, temperature: float,
                    nodes: int, gpus_per_node: int) -> Dict[str, Tensor]:
    """VTC loss of each simulated rank under both target rules.

    Args:
        video_feat / text_feat: ``(N, E)`` normalised features; the first
            ``W * b`` rows are split into ``W = nodes * gpus_per_node``
            ranks of ``b = N // W`` rows (rank ``r`` holds rows
            ``[r * b, (r + 1) * b)``, the order of an all-gather).
        temperature: the VTC temperature (the clamped one).

    Returns:
        ``global`` and ``local`` ``(W,)`` losses (the mean of both
        directions, as ``VTCHead``): positives at ``rank * b`` and at
        ``(rank % gpus_per_node) * b``.
    """
    world = nodes * gpus_per_node
    per_rank = video_feat.size(0) // world
    if per_rank < 1:
        raise ValueError(f'{video_feat.size(0)} samples cannot fill {world} '
                         'ranks; probe more batches')
    video = video_feat[:world * per_rank].float()
    text = text_feat[:world * per_rank].float()
    losses: Dict[str, List[Tensor]] = dict(global_=[], local=[])
    rows = torch.arange(per_rank)
    for rank in range(world):
        mine = slice(rank * per_rank, (rank + 1) * per_rank)
        sim_v2t = video[mine] @ text.t() / temperature
        sim_t2v = text[mine] @ video.t() / temperature
        for rule, offset in (('global_', rank), ('local',
                                                 rank % gpus_per_node)):
            target = rows + offset * per_rank
            loss = (torch.nn.functional.cross_entropy(sim_v2t, target) +
                    torch.nn.functional.cross_entropy(sim_t2v, target)) / 2
            losses[rule].append(loss)
    return dict(
        global_=torch.stack(losses['global_']),
        local=torch.stack(losses['local']))


def build(cfg: Config, checkpoint: str):
    """The config's model with ``checkpoint`` loaded (safe loader), in eval
    mode, and a second prompter from the same weights that keeps the
    release's plain template means."""
    register_all_modules()
    with DefaultScope.overwrite_default_scope('alpro'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        load_checkpoint(model, checkpoint, map_location='cpu')
        plain = PROMPTERS.build(
            dict(cfg.model.prompter, renormalize_entities=False))
        plain.init_weights()
    if type(model.prompter) is not type(plain):
        raise TypeError('release_departures: the config must build an '
                        f'AlproPretrainer with an EntityPrompter, got '
                        f'{type(model).__name__} with '
                        f'{type(model.prompter).__name__}')
    model.eval()
    plain.eval()
    model.prompter.build_cache()
    plain.build_cache()
    return model, plain


def training_inputs(cfg: Config, model,
                    num_batches: int) -> Iterator[Dict[str, Tensor]]:
    """The inputs of ``num_batches`` training steps: the train loader's
    batches through the data preprocessor in training mode."""
    loader = Runner.build_dataloader(
        cfg.train_dataloader, seed=cfg.get('randomness', {}).get('seed'))
    for index, batch in enumerate(loader):
        if index == num_batches:
            return
        yield model.data_preprocessor(batch, training=True)['inputs']


@torch.no_grad()
def measure(cfg: Config, checkpoint: str, num_batches: int, nodes: int,
            gpus_per_node: int) -> dict:
    model, plain = build(cfg, checkpoint)
    ours = model.prompter
    keeps: Dict[str, List[Tensor]] = dict(paper=[], release=[], plain=[])
    top_same, max_diff = [], 0.0
    video_feats, text_feats = [], []
    for inputs in training_inputs(cfg, model, num_batches):
        crop, is_image = inputs['pem_crop'], inputs.get('is_image')
        probs, _ = ours.pseudo_labels(crop, is_image)
        plain_probs, plain_keep = plain.pseudo_labels(crop, is_image)
        for rule, keep in keep_rules(probs, ours.threshold).items():
            keeps[rule].append(keep)
        keeps['plain'].append(plain_keep)
        top_same.append(probs.argmax(-1) == plain_probs.argmax(-1))
        max_diff = max(max_diff, float((probs - plain_probs).abs().max()))
        _, video_feat = model.encode_video(inputs['video'])
        _, text_feat = model.encode_text(inputs['text_ids'],
                                         inputs['text_mask'])
        video_feats.append(video_feat)
        text_feats.append(text_feat)
    paper, release, plain_keep = (
        torch.cat(keeps[k]).float() for k in ('paper', 'release', 'plain'))
    norms = torch.cat([plain.video_entity_embeds,
                       plain.image_entity_embeds]).norm(dim=-1)
    temperature = float(model.vtc_head.clamped_temperature())
    losses = vtc_rank_losses(
        torch.cat(video_feats), torch.cat(text_feats), temperature, nodes,
        gpus_per_node)
    first = slice(0, gpus_per_node)
    others = slice(gpus_per_node, None)
    world = nodes * gpus_per_node

    def mean(values: Tensor) -> float:
        return float(values.mean()) if values.numel() else float('nan')

    return dict(
        samples=int(paper.numel()),
        threshold=ours.threshold,
        keep_paper=float(paper.mean()),
        keep_release=float(release.mean()),
        keep_rules_agree=float((paper == release).float().mean()),
        entity_norm_min=float(norms.min()),
        entity_norm_mean=float(norms.mean()),
        entity_norm_max=float(norms.max()),
        plain_prob_max_diff=max_diff,
        plain_top_entity_agree=float(torch.cat(top_same).float().mean()),
        plain_keep_agree=float((paper == plain_keep).float().mean()),
        vtc_temperature=temperature,
        vtc_ranks=world,
        vtc_samples_per_rank=int(torch.cat(video_feats).size(0) // world),
        vtc_global_first_node=mean(losses['global_'][first]),
        vtc_global_other_nodes=mean(losses['global_'][others]),
        vtc_local_first_node=mean(losses['local'][first]),
        vtc_local_other_nodes=mean(losses['local'][others]),
        vtc_local_targets_right=gpus_per_node / world)


def format_report(r: dict, nodes: int, gpus_per_node: int) -> str:
    return '\n'.join([
        f"{r['samples']} training samples",
        '1. PEM keep mask: paper rule (max prob >= '
        f"{r['threshold']:g}) keeps {r['keep_paper']:.1%}, release rule "
        f"(arg-max index != 0) keeps {r['keep_release']:.1%}; they agree "
        f"on {r['keep_rules_agree']:.1%}",
        "2. entity embeddings: the release's plain template means have norm "
        f"{r['entity_norm_min']:.3f}-{r['entity_norm_max']:.3f} (mean "
        f"{r['entity_norm_mean']:.3f}); pseudo-labels differ by up to "
        f"{r['plain_prob_max_diff']:.3g}, top entity agrees on "
        f"{r['plain_top_entity_agree']:.1%}, keep on "
        f"{r['plain_keep_agree']:.1%}",
        f'3. VTC targets, {nodes} nodes x {gpus_per_node} ranks, '
        f"{r['vtc_samples_per_rank']} pairs per rank, temperature "
        f"{r['vtc_temperature']:.4f}: global rank (ours) loss "
        f"{r['vtc_global_first_node']:.3f} (node 0) / "
        f"{r['vtc_global_other_nodes']:.3f} (other nodes); local rank "
        f"(release) {r['vtc_local_first_node']:.3f} / "
        f"{r['vtc_local_other_nodes']:.3f}; the release's targets are the "
        f"true pairs on {r['vtc_local_targets_right']:.0%} of the ranks",
    ])


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    result = measure(cfg, args.checkpoint, args.num_batches, args.nodes,
                     args.gpus_per_node)
    print(format_report(result, args.nodes, args.gpus_per_node))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
