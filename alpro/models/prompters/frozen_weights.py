"""The frozen stage-1 model inside an entity prompter: how it is built, its
checkpoint, the dtype its weights are stored in and run at, and a
fingerprint of them."""
import contextlib
import copy
import logging
import os
import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from alpro.registry import MODELS
from alpro.utils.checkpoint import (load_checkpoint_safely,
                                    load_state_dict_checked)
from alpro.utils.renamed_keys import rename_old_keys

__all__ = [
    'TRAIN_PROMPTER_HINT', 'build_frozen_prompter',
    'initialise_frozen_prompter', 'load_prompter_checkpoint',
    'vtc_temperature', 'store_weights', 'stored_dtype', 'precision',
    'precision_name', 'weights_fingerprint'
]

TRAIN_PROMPTER_HINT = (
    'train the prompter first: python tools/train.py '
    'configs/alpro/pretrain_prompter_webvid.py (the demo: python '
    'tools/train.py configs/demo/pretrain_prompter.py) and point '
    'checkpoint= at the checkpoint it writes under work_dirs/')

#: the child that stays float32 whatever the weights' dtype (it scales the
#: float32 similarities only)
_FLOAT32_CHILD = 'vtc_head'


def build_frozen_prompter(cfg: dict, weights_dtype: torch.dtype) -> nn.Module:
    """Build the stage-1 model of ``cfg`` (its ``data_preprocessor`` dropped:
    it sees tensors only), check that it gives contrastive embeddings,
    freeze it, put it in eval mode and store its weights in
    ``weights_dtype`` (already here: ``Runner.val()`` / ``test()`` do not
    call ``init_weights()``, and ``load_from`` then copies a stage-2
    checkpoint's values into these parameters, whatever its dtype)."""
    cfg = copy.deepcopy(dict(cfg))
    cfg.pop('data_preprocessor', None)
    prompter = MODELS.build(cfg)
    name = type(prompter).__name__
    for method in ('encode_video', 'encode_text'):
        if not callable(getattr(prompter, method, None)):
            raise TypeError(
                f'EntityPrompter: the prompter {name} has no {method}(); use '
                'a stage-1 model such as PrompterPretrainer')
    if getattr(prompter, 'vision_proj', True) is None:
        # a BaseVideoTextModel built without embed_dim: no embeddings
        raise TypeError(
            f'EntityPrompter: the prompter {name} has no contrastive '
            'projections (embed_dim), so its encode_video() / encode_text() '
            'give no embeddings to score; use a stage-1 model such as '
            'PrompterPretrainer')
    prompter.requires_grad_(False)
    prompter.eval()
    store_weights(prompter, weights_dtype)
    return prompter


def initialise_frozen_prompter(prompter: nn.Module, checkpoint: Optional[str],
                               weights_dtype: torch.dtype) -> str:
    """Load ``checkpoint`` into the frozen ``prompter`` (``None``: random
    weights, with a warning), store the weights in ``weights_dtype`` and
    mark every submodule initialised, so that MMEngine never re-randomises
    them.

    Returns:
        what the weights come from (``'random'`` or the checkpoint's
        ``'path|size|mtime'``).
    """
    if checkpoint is None:
        print_log(
            'EntityPrompter: checkpoint=None, the prompter is RANDOM: its '
            'pseudo-labels are noise (fine for tests and benchmarks only). ' +
            TRAIN_PROMPTER_HINT,
            logger='current',
            level=logging.WARNING)
        if weights_dtype != torch.float32:
            # initialised in float32 (MMEngine's initialisers need not
            # support bf16), stored in weights_dtype below
            prompter.float()
        prompter.init_weights()
        source = 'random'
    else:
        # load_state_dict casts the tensors to the parameters' dtype
        source = load_prompter_checkpoint(prompter, checkpoint)
    store_weights(prompter, weights_dtype)
    for module in prompter.modules():
        if hasattr(module, 'init_weights'):
            module.is_init = True
    return source


def vtc_temperature(prompter: nn.Module) -> torch.Tensor:
    """The prompter's learned VTC temperature, clamped to the bounds its
    ``VTCHead`` keeps it in (out of place: the prompter is frozen)."""
    vtc = getattr(prompter, 'vtc_head', None)
    temp = getattr(vtc, 'temp', None)
    if temp is None:
        raise AttributeError(
            'EntityPrompter: the prompter has no vtc_head.temp; give '
            'temperature= explicitly')
    return temp.detach().float().clamp(vtc.min_temperature,
                                       vtc.max_temperature)


def load_prompter_checkpoint(prompter: nn.Module, checkpoint: str) -> str:
    """Load a stage-1 MMEngine checkpoint into ``prompter`` through the safe
    loader: a DDP ``module.`` prefix and renamed keys are undone, every key
    of the prompter must be there (else ``KeyError`` naming them), extra
    keys are logged and ignored, shapes must match.

    Returns:
        ``'path|size|mtime'``, what the weights come from (cache key).
    """
    path = osp.abspath(osp.expanduser(checkpoint))
    if not osp.isfile(path):
        raise FileNotFoundError(f"prompter checkpoint '{checkpoint}' not "
                                f'found: {TRAIN_PROMPTER_HINT}')
    ckpt = load_checkpoint_safely(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise TypeError(f"prompter checkpoint '{checkpoint}' holds no "
                        'state_dict; expected an MMEngine checkpoint of '
                        'stage 1')
    if state and all(k.startswith('module.') for k in state):
        # a state dict saved from inside a DDP wrapper
        state = {k[len('module.'):]: v for k, v in state.items()}
    rename_old_keys(state)
    expected = prompter.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        shown = ', '.join(missing[:10])
        if len(missing) > 10:
            shown += f' and {len(missing) - 10} more'
        raise KeyError(
            f"prompter checkpoint '{checkpoint}' lacks {len(missing)} of "
            f'the prompter\'s keys: {shown}. Is it a stage-1 '
            'PrompterPretrainer checkpoint with the same backbone and '
            'text_encoder config as EntityPrompter.prompter?')
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        print_log(
            f'EntityPrompter: ignoring {len(unexpected)} keys of '
            f'{checkpoint} that the prompter does not have: '
            f'{", ".join(unexpected[:10])}',
            logger='current',
            level=logging.WARNING)
    load_state_dict_checked(
        prompter, {k: state[k]
                   for k in expected},
        source=f"prompter checkpoint '{checkpoint}'")
    print_log(
        f'EntityPrompter: loaded the prompter from {checkpoint}',
        logger='current')
    stat = os.stat(path)
    return f'{path}|{stat.st_size}|{stat.st_mtime_ns}'


def store_weights(prompter: nn.Module, dtype: torch.dtype) -> None:
    """Store the floating parameters and buffers of ``prompter`` in
    ``dtype``, its VTC temperature excepted; parameters stay the same
    objects."""
    if dtype == torch.float32:
        return
    # child by child: a round trip of the temperature through bf16 would
    # round it (0.07 -> 0.0698)
    for name, child in prompter.named_children():
        if name != _FLOAT32_CHILD:
            child.to(dtype)
    prompter._apply(
        lambda t: t.to(dtype) if t.is_floating_point() else t, recurse=False)


def stored_dtype(prompter: nn.Module) -> torch.dtype:
    """The dtype of the first floating parameter outside the VTC head:
    float32 (run under autocast on CUDA) or e.g. bf16 (run in bf16)."""
    for name, param in prompter.named_parameters():
        if param.is_floating_point() and not name.startswith(_FLOAT32_CHILD +
                                                             '.'):
            return param.dtype
    return torch.float32


def precision(prompter: nn.Module,
              device: torch.device) -> Tuple[Optional[torch.dtype], object]:
    """``(dtype, context)``: the dtype the prompter's inputs must be cast to
    (``None``: leave them) and the context to run it in: bf16 autocast on
    CUDA for float32 weights, autocast off for weights stored in bf16 (an
    outer autocast would only add casts to float32 and back)."""
    dtype = stored_dtype(prompter)
    if dtype != torch.float32:
        return dtype, torch.autocast(device.type, enabled=False)
    if device.type == 'cuda':
        return None, torch.autocast('cuda', dtype=torch.bfloat16)
    return None, contextlib.nullcontext()


def precision_name(prompter: nn.Module, device: torch.device) -> str:
    """What :func:`precision` computes in, in words (cache key)."""
    dtype = stored_dtype(prompter)
    if dtype == torch.float32 and device.type == 'cuda':
        return 'float32 weights, bfloat16 autocast'
    return str(dtype)


def weights_fingerprint(prompter: nn.Module) -> List[float]:
    """Sums and absolute sums of every floating tensor of ``prompter``'s
    state: one host sync, so that weights replaced after loading (e.g. by
    ``load_from``) are noticed."""
    tensors = [
        t for t in prompter.state_dict().values() if torch.is_floating_point(t)
    ]
    if not tensors:
        return []
    stats = torch.stack([
        torch.stack([t.float().sum(), t.float().abs().sum()]) for t in tensors
    ])
    return stats.cpu().flatten().tolist()
