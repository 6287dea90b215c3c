"""What a retrieval model confuses on the demo's held-out split: for each
caption whose top-ranked clip is not its own, does that clip have the
caption's colour, shape and direction of motion? Ranked by VTC alone and by
VTM alone (the same scores as ``objective_probes.py retrieval``).

The demo corpus is synthetic, so every clip's colour, shape and direction
are known exactly: they are rebuilt from the corpus's ``meta.json`` (seed
and counts) with ``tools/data/make_demo_data.py``'s own layout, not parsed
from the captions.

Usage:
  python tools/analysis/retrieval_errors.py CONFIG CHECKPOINT
      [--data-root data/demo] [--batch 64] [--out FILE.json]
      [--cfg-options ...]
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config, DictAction

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS / 'analysis'))
sys.path.insert(0, str(TOOLS / 'data'))
# isort: off
from benchmark_retrieval import build_model, decode_split  # noqa: E402
from make_demo_data import build_clip_specs, clip_name  # noqa: E402
from objective_probes import encode_split, score_matrices  # noqa: E402
# isort: on

ATTRIBUTES = ('colour', 'shape', 'direction')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--data-root',
        default='data/demo',
        help='the demo corpus (its meta.json names seed and counts)')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def clip_attributes(data_root: Path) -> Dict[str, Dict[str, str]]:
    """Clip name -> its colour, shape and direction, from the corpus's
    ``meta.json``."""
    meta = json.loads((data_root / 'meta.json').read_text())
    counts = meta['counts']
    specs = build_clip_specs(meta['seed'], counts['train'] + counts['val'])
    return {
        clip_name(spec): {
            name: getattr(spec, name)
            for name in ATTRIBUTES
        }
        for spec in specs
    }


def top1_errors(scores: torch.Tensor, own: torch.Tensor,
                attributes: Sequence[Dict[str, str]]) -> dict:
    """Of the captions (rows of ``scores`` ``(Nt, Nv)``) whose best clip is
    not their own (``own`` ``(Nt,)``), the fraction whose best clip shares
    the own clip's colour, shape, direction, and all three
    (``attributes``: one dict per clip)."""
    best = scores.argmax(1)
    wrong = (best != own).nonzero().flatten().tolist()
    out = dict(r1=100 * (1 - len(wrong) / own.numel()), wrong=len(wrong))
    if not wrong:
        return out
    shares = {name: 0 for name in ATTRIBUTES}
    all_three = 0
    for row in wrong:
        mine, theirs = attributes[int(own[row])], attributes[int(best[row])]
        same = [mine[name] == theirs[name] for name in ATTRIBUTES]
        for name, equal in zip(ATTRIBUTES, same):
            shares[name] += equal
        all_three += all(same)
    out.update({f'same_{k}': v / len(wrong) for k, v in shares.items()})
    out['same_all_three'] = all_three / len(wrong)
    return out


def attribute_key(clip: Dict[str, str]) -> tuple:
    """``(colour, shape, direction)`` of a clip."""
    return tuple(clip[name] for name in ATTRIBUTES)


def attribute_chance(own: torch.Tensor,
                     attributes: Sequence[Dict[str, str]]) -> float:
    """t2v R@1 (%) of a model that recognises colour, shape and direction
    perfectly and nothing else: the mean over captions of 1 / the clips of
    the split with their clip's three attributes."""
    keys = [attribute_key(a) for a in attributes]
    size = Counter(keys)
    return 100 * sum(1 / size[keys[int(v)]] for v in own) / own.numel()


def format_errors(results: Dict[str, dict]) -> str:
    lines: List[str] = [
        f"{results['clips']} clips, {results['attribute_groups']} distinct "
        "(colour, shape, direction); a model that tells exactly those apart "
        f"and nothing else: t2v R@1 {results['attribute_chance']:.1f}"
    ]
    for scorer in ('VTC alone', 'VTM alone'):
        r = results[scorer]
        line = (f"{scorer}: t2v R@1 {r['r1']:.1f}, {r['wrong']} captions "
                'ranked another clip first')
        if r['wrong']:
            line += (f"; that clip has the caption's colour for "
                     f"{r['same_colour']:.0%}, shape for {r['same_shape']:.0%}"
                     f", direction for {r['same_direction']:.0%}, all three "
                     f"for {r['same_all_three']:.0%}")
        lines.append(line)
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg, args.checkpoint, args.device)
    if not hasattr(model, 'vtm_head'):
        raise SystemExit('retrieval_errors: the model has no VTM head (a '
                         'stage-2 or retrieval config)')
    split = decode_split(cfg, model)
    known = clip_attributes(Path(args.data_root))
    missing = [v for v in split['video_ids'] if v not in known]
    if missing:
        raise SystemExit(
            f'retrieval_errors: {len(missing)} clips of the split are not in '
            f'the demo corpus of {args.data_root} (first: {missing[0]}); '
            'this tool reads the demo corpus only')
    attributes = [known[v] for v in split['video_ids']]
    vtc, vtm = score_matrices(
        model, encode_split(model, split, args.batch, args.device), args.batch)
    own = split['text_to_video'].to(args.device)
    results = {
        'clips': len(attributes),
        'attribute_groups': len({attribute_key(a)
                                 for a in attributes}),
        'attribute_chance': attribute_chance(own, attributes),
        'VTC alone': top1_errors(vtc, own, attributes),
        'VTM alone': top1_errors(vtm, own, attributes),
    }
    print(format_errors(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == '__main__':
    main()
