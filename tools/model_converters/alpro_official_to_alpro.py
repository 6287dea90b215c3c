"""Convert the released ALPRO checkpoints to this codebase's key layout.

Usage::

    python tools/model_converters/alpro_official_to_alpro.py \\
        alpro_pretrained_ckpt.pt alpro_pretrain.pth [--kind auto] \\
        [--config configs/...py [--cfg-options ...]] \\
        [--prompter-text-layers 6]

With ``--config`` the converted tensors are made to fit the model the config
builds and are loaded into it before anything is written: ``pos_embed`` and
``time_embed`` are resized by the backbone's own rule (the paper configs:
``time_embed`` with nearest interpolation, as the release's fine-tuning
does when it goes from 4 to 8 or 16 frames), and every tensor is checked
against the model's shape. A tensor that still does not fit is reported
with both shapes and nothing is written (exit status 1).

The released files (``alpro_pretrained_ckpt.pt``, ``prompter_pretrained.pt``
and the fine-tuned retrieval / QA checkpoints) are plain state dicts of the
original ``AlproForPretrain``, ``Prompter``, ``AlproForVideoTextRetrieval``
and ``AlproForSequenceClassification`` (``salesforce/ALPRO``,
``src/modeling/alpro_models.py``). The key map:

==========================================  ================================
original                                    ours
==========================================  ================================
``visual_encoder.model.*``                  ``backbone.*``
``...blocks.{i}.temporal_norm1.*``          ``...blocks.{i}.temporal_norm.*``
``text_encoder.bert.*`` (QA:                ``text_encoder.bert.*``
``text_encoder.*``)
``text_encoder.cls.predictions.*``          ``mlm_head.predictions.*``
``vision_proj.*``, ``text_proj.*``          the same
``temp``                                    ``vtc_head.temp``
``itm_head.*``                              ``vtm_head.fc.*``
``mpm_head.{0,2}.*``                        ``pem_head.mlp.{0,2}.*``
``classifier.{0,2}.*``                      ``qa_head.fc{1,2}.*``
``prompter.*`` (in the pre-trained file)    ``prompter.prompter.*`` (the
                                            prompter rules)
==========================================  ================================

Left unmapped (and reported): the Kinetics classifier of TimeSformer
(``visual_encoder.model.head``), BERT's pooler, NSP head and
``position_ids`` buffer, any ``crossattention`` layer (our fusion is
self-attention only), the prompter's entity prompt features (our
``EntityPrompter`` rebuilds them from its entity file), heads a kind's model
does not have (e.g. ``itm_head`` of the prompter) and, with
``--prompter-text-layers N``, the prompter's BERT layers ``>= N`` (the
original prompter never runs them: it encodes text in ``mode='text'``).
"""
import argparse
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from torch import Tensor, nn

from alpro.utils.checkpoint import (CheckpointShapeError,
                                    UnsafeCheckpointError,
                                    load_checkpoint_safely,
                                    load_state_dict_checked)

KINDS = ('auto', 'pretrain', 'prompter', 'retrieval', 'qa')

#: original key patterns that have no counterpart in our models
_UNMAPPED_PATTERNS = (
    re.compile(r'^visual_encoder\.model\.head\.'),
    re.compile(r'(^|\.)pooler\.'),
    re.compile(r'\.crossattention\.'),
    re.compile(r'embeddings\.position_ids$'),
    re.compile(r'^text_encoder\.cls\.seq_relationship\.'),
    re.compile(r'prompt_feat$'),
)
_LAYER = re.compile(r'\.encoder\.layer\.(\d+)\.')


def _rules(kind: str) -> List[Tuple[str, str]]:
    """``(original prefix, our prefix)`` pairs of one kind, in match order.

    A prefix ending without a dot matches the whole key only.
    """
    rules = [('visual_encoder.model.', 'backbone.')]
    if kind == 'qa':
        rules += [('text_encoder.', 'text_encoder.bert.'),
                  ('classifier.0.', 'qa_head.fc1.'),
                  ('classifier.2.', 'qa_head.fc2.')]
        return rules
    rules += [('text_encoder.bert.', 'text_encoder.bert.'),
              ('vision_proj.', 'vision_proj.'), ('text_proj.', 'text_proj.'),
              ('temp', 'vtc_head.temp')]
    if kind in ('pretrain', 'retrieval'):
        rules += [('text_encoder.cls.predictions.', 'mlm_head.predictions.'),
                  ('itm_head.', 'vtm_head.fc.')]
    if kind == 'pretrain':
        rules += [('mpm_head.0.', 'pem_head.mlp.0.'),
                  ('mpm_head.2.', 'pem_head.mlp.2.')]
    return rules


def _apply(key: str, rules: Sequence[Tuple[str, str]]) -> Optional[str]:
    """Rename ``key`` by the first rule whose source prefix matches."""
    for source, target in rules:
        if source.endswith('.') and key.startswith(source):
            return target + key[len(source):]
        if key == source:
            return target
    return None


def detect_kind(keys: Sequence[str]) -> str:
    """Which released model a state dict comes from, by its keys.

    Args:
        keys: the original state dict's keys.

    Returns:
        ``'prompter'``, ``'pretrain'``, ``'qa'`` or ``'retrieval'``.
    """
    keys = list(keys)
    if any(k.endswith('prompt_feat') and '.' not in k for k in keys):
        return 'prompter'
    if any(k.startswith(('mpm_head.', 'prompter.')) for k in keys):
        return 'pretrain'
    if any(k.startswith('classifier.') for k in keys):
        return 'qa'
    return 'retrieval'


def convert_state_dict(
    original: Dict[str, Tensor],
    kind: str = 'auto',
    prompter_text_layers: Optional[int] = None
) -> Tuple[Dict[str, Tensor], List[str]]:
    """Map a released ALPRO state dict onto our module names.

    Args:
        original: the state dict of an original ALPRO model.
        kind: ``'pretrain'`` (``AlproForPretrain``), ``'prompter'``
            (``Prompter``), ``'retrieval'``, ``'qa'``, or ``'auto'`` to
            detect it (:func:`detect_kind`).
        prompter_text_layers: when given, the prompter's BERT layers from
            this index on are left unmapped (our stage-1 prompter builds
            only its text layers; ALPRO's ``fusion_layer`` is 6).

    Returns:
        Our state dict (the tensors themselves, not copies) and the sorted
        original keys that were not mapped.
    """
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    if kind == 'auto':
        kind = detect_kind(original)
    is_prompter = kind == 'prompter'
    rules = _rules(kind)
    converted: Dict[str, Tensor] = {}
    unmapped: List[str] = []
    nested: Dict[str, Tensor] = {}
    for key, value in original.items():
        if kind == 'pretrain' and key.startswith('prompter.'):
            nested[key[len('prompter.'):]] = value
            continue
        if any(p.search(key) for p in _UNMAPPED_PATTERNS):
            unmapped.append(key)
            continue
        layer = _LAYER.search(key)
        if (is_prompter and layer is not None
                and prompter_text_layers is not None
                and int(layer.group(1)) >= prompter_text_layers):
            unmapped.append(key)
            continue
        new_key = _apply(key, rules)
        if new_key is None:
            unmapped.append(key)
            continue
        if new_key.startswith('backbone.'):
            new_key = new_key.replace('.temporal_norm1.', '.temporal_norm.')
        converted[new_key] = value
    if nested:
        sub, sub_unmapped = convert_state_dict(nested, 'prompter',
                                               prompter_text_layers)
        converted.update({f'prompter.prompter.{k}': v for k, v in sub.items()})
        unmapped += [f'prompter.{k}' for k in sub_unmapped]
    return converted, sorted(unmapped)


def invert_state_dict(ours: Dict[str, Tensor],
                      kind: str) -> Tuple[Dict[str, Tensor], List[str]]:
    """Our names back to the original ones (the inverse key map).

    Args:
        ours: a state dict of one of our models.
        kind: ``'pretrain'``, ``'prompter'``, ``'retrieval'`` or ``'qa'``.

    Returns:
        The state dict under the original names and the sorted keys of ours
        that have no original counterpart (e.g. ``video_to_text``).
    """
    if kind not in KINDS[1:]:
        raise ValueError(f'kind must be one of {KINDS[1:]}, got {kind!r}')
    inverse = [(target, source) for source, target in _rules(kind)]
    original: Dict[str, Tensor] = {}
    left: List[str] = []
    nested: Dict[str, Tensor] = {}
    for key, value in ours.items():
        if kind == 'pretrain' and key.startswith('prompter.prompter.'):
            nested[key[len('prompter.prompter.'):]] = value
            continue
        old_key = _apply(key, inverse)
        if old_key is None:
            left.append(key)
            continue
        if old_key.startswith('visual_encoder.model.'):
            old_key = old_key.replace('.temporal_norm.', '.temporal_norm1.')
        original[old_key] = value
    if nested:
        sub, sub_left = invert_state_dict(nested, 'prompter')
        original.update({f'prompter.{k}': v for k, v in sub.items()})
        left += [f'prompter.prompter.{k}' for k in sub_left]
    return original, sorted(left)


def load_original(path: str) -> Dict[str, Tensor]:
    """Load a released checkpoint with ``weights_only=True``.

    A dict holding the state dict under ``'model'`` or ``'state_dict'`` is
    unwrapped.

    Raises:
        SystemExit: the file needs globals a weights-only load refuses; the
            message names them and asks for a plain state dict.
    """
    try:
        loaded = load_checkpoint_safely(path, 'cpu')
    except UnsafeCheckpointError as error:
        raise SystemExit(
            f'{error}\nThis tool allows none. If you trust the file, re-save '
            'it as a plain state dict (parameter name -> tensor) with a '
            'script of your own and convert that.') from error
    for wrapper in ('state_dict', 'model'):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict):
        raise SystemExit(f'{path} holds a {type(loaded).__name__}, '
                         'not a state dict')
    return loaded


def build_model(config: str, options: Optional[dict] = None) -> nn.Module:
    """The model a config builds (no weights loaded), for checking."""
    import alpro.models  # noqa: F401 - registers the modules
    from alpro.registry import MODELS
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(options)
    return MODELS.build(cfg.model)


def fit_to_model(state: Dict[str, Tensor],
                 model: nn.Module) -> List[Tuple[str, tuple, tuple]]:
    """Resize, in place, the embeddings of a converted state dict to the
    model's sizes, by each submodule's own ``fit_embeddings`` (e.g.
    ``TimeSformer``'s ``pos_embed`` to its grid, ``time_embed`` to its
    frames by its ``time_embed_resize``).

    Returns:
        ``(key, old shape, new shape)`` of each resized tensor.
    """
    before = {k: tuple(v.shape) for k, v in state.items()}
    for name, module in model.named_modules():
        fit = getattr(module, 'fit_embeddings', None)
        if callable(fit):
            fit(state, f'{name}.' if name else '')
    return [(k, before[k], tuple(v.shape)) for k, v in state.items()
            if tuple(v.shape) != before[k]]


def check_against_config(converted: Dict[str, Tensor],
                         args: argparse.Namespace) -> bool:
    """Fit ``converted`` to the model of ``args.config`` and load it there;
    print what was resized, what either side lacks and any shape that does
    not fit.

    Returns:
        Whether every converted tensor that the model has fits it.
    """
    model = build_model(args.config, args.cfg_options)
    resized = fit_to_model(converted, model)
    print(f'resized to {args.config} ({len(resized)}):')
    for key, old, new in resized:
        print(f'  {key}: {list(old)} -> {list(new)}')
    try:
        missing, extra = load_state_dict_checked(model, converted, args.src)
    except CheckpointShapeError as error:
        print(f'shape mismatches ({len(error.mismatched)}):')
        for key, ckpt, ours in error.mismatched:
            print(f'  {key}: converted {list(ckpt)}, model {list(ours)}')
        return False
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    print(f'shapes: all {len(converted) - len(extra)} tensors the model has '
          'fit it')
    print(f'our keys that got nothing ({len(missing)}):')
    for key in missing:
        print(f'  {key}  {shapes[key]}')
    print(f'converted keys the model does not have ({len(extra)}):')
    for key in extra:
        print(f'  {key}  {list(converted[key].shape)}')
    return True


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert IN to OUT and print a report.

    Args:
        argv: the command line less the program name; ``sys.argv[1:]`` by
            default.

    Returns:
        0, or 1 when a tensor does not fit the model of ``--config``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', metavar='IN', help='released ALPRO .pt file')
    parser.add_argument('dst', metavar='OUT', help='converted .pth file')
    parser.add_argument('--kind', choices=KINDS, default='auto')
    parser.add_argument(
        '--config',
        help='the config the file is for: resize the embeddings to its '
        'model, load the tensors into it as a check (shapes included) and '
        'report the keys each side lacks')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of --config, as tools/train.py does')
    parser.add_argument(
        '--prompter-text-layers',
        type=int,
        default=None,
        help="leave the prompter's BERT layers >= N unmapped (ALPRO: 6)")
    args = parser.parse_args(argv)

    original = load_original(args.src)
    kind = detect_kind(original) if args.kind == 'auto' else args.kind
    converted, unmapped = convert_state_dict(original, kind,
                                             args.prompter_text_layers)
    print(f'kind: {kind}')
    print(f'mapped: {len(converted)} of {len(original)} original keys')
    print(f'unmapped original keys ({len(unmapped)}):')
    for key in unmapped:
        print(f'  {key}  {list(original[key].shape)}')
    if args.config is None:
        print('our keys that got nothing, and shapes: unchecked (no '
              '--config)')
    elif not check_against_config(converted, args):
        print(f'nothing written to {args.dst}')
        return 1
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(converted_from=args.src, kind=kind)), args.dst)
    print(f'written: {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
