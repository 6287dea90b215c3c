"""Fit image ViT and TimeSformer weights to a TimeSformer: resample the
position and time embeddings, map the keys."""
import math
from typing import Dict

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from timm.layers import resample_abs_pos_embed, resample_patch_embed
from torch import nn

__all__ = ['resample_time_embed', 'resample_pos_embed', 'vit_to_timesformer']

# Keys of image classifiers that a video backbone has no use for.
_DROPPED_PREFIXES = ('head', 'fc_norm.', 'pre_logits')


def resample_time_embed(time_embed: torch.Tensor,
                        num_frames: int,
                        mode: str = 'linear') -> torch.Tensor:
    """Resample a ``(1, T, D)`` time embedding to ``(1, num_frames, D)``
    along T, ``'linear'`` (half-pixel centres) or ``'nearest'`` (entry
    ``floor(t * T / num_frames)`` for frame ``t``, as ALPRO)."""
    if time_embed.shape[1] == num_frames:
        return time_embed
    options = dict(align_corners=False) if mode == 'linear' else {}
    resized = F.interpolate(
        time_embed.float().transpose(1, 2),
        size=num_frames,
        mode=mode,
        **options)
    return resized.transpose(1, 2).to(time_embed.dtype)


def _strip_prefix(state_dict: Dict[str, torch.Tensor]) -> dict:
    """Drop a wrapper prefix (``module.``, ``backbone.``, ``model.``...),
    found as the one prefix under which both ``cls_token`` and
    ``pos_embed`` sit."""
    if 'cls_token' in state_dict or 'pos_embed' in state_dict:
        return state_dict
    prefixes = [
        k[:-len('cls_token')] for k in state_dict
        if k.endswith('.cls_token') and k[:-len('cls_token')] +
        'pos_embed' in state_dict
    ]
    if len(prefixes) > 1:
        raise ValueError(
            'the checkpoint holds several vision transformers, under '
            f'{prefixes}; save the state dict of the one to load')
    if not prefixes:
        return state_dict
    prefix = prefixes[0]
    return {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }


def _is_square(n: int) -> bool:
    return n >= 0 and math.isqrt(n)**2 == n


def resample_pos_embed(pos_embed: torch.Tensor,
                       model: nn.Module) -> torch.Tensor:
    grid = list(model.patch_embed.grid_size)
    num_patches = grid[0] * grid[1]
    length = pos_embed.shape[1]
    if length == num_patches + 1:
        # Made for this grid (a square or this model's own checkpoint).
        return pos_embed
    if _is_square(length - 1):
        num_prefix = 1
    elif _is_square(length):
        num_prefix = 0  # a ViT without a [CLS] position (no_embed_class)
    else:
        raise ValueError(f'cannot infer the patch grid of a pos_embed of '
                         f'{length} tokens')
    side = math.isqrt(length - num_prefix)
    resized = resample_abs_pos_embed(
        pos_embed,
        new_size=grid,
        old_size=[side, side],
        num_prefix_tokens=num_prefix)
    if not num_prefix:
        resized = torch.cat(
            [resized.new_zeros(1, 1, resized.shape[2]), resized], dim=1)
    print_log(
        f'pos_embed resampled from a {side}x{side} to a '
        f'{grid[0]}x{grid[1]} patch grid',
        logger='current')
    return resized


def vit_to_timesformer(state_dict: Dict[str, torch.Tensor],
                       model: nn.Module) -> Dict[str, torch.Tensor]:
    """Map an image ViT (timm names) or TimeSformer state dict onto
    ``model``.

    * a wrapper prefix shared by ``cls_token`` and ``pos_embed`` (e.g.
      ``module.``, ``backbone.``) is removed;
    * spatial keys (``patch_embed``, ``cls_token``, ``blocks.i.norm1/attn/
      norm2/mlp``, ``norm``) are kept as they are;
    * for each block without temporal weights, ``temporal_attn.*`` is a copy
      of that block's ``attn.*`` and ``temporal_norm.*`` of ``norm1.*``
      (as the TimeSformer and ALPRO loaders do), and ``temporal_fc`` is
      zero, so that the loaded model starts as the image model;
    * ``time_embed`` is zero unless present; a present one of another
      length is resampled along T (the model's ``time_embed_resize``);
    * ``pos_embed`` is resampled (timm's ``resample_abs_pos_embed``, one
      prefix token) to the model's patch grid, the patch embedding to its
      patch size;
    * classifier keys (``head*``, ``fc_norm.*``, ``pre_logits*``) are
      dropped; anything else stays and shows up as unexpected on load.

    Args:
        state_dict: name -> tensor, e.g. from a timm ``VisionTransformer``.
        model: the TimeSformer to load into (its grid, T and depth).

    Returns:
        a new state dict for ``model.load_state_dict(..., strict=False)``.
    """
    state_dict = _strip_prefix(dict(state_dict))
    out = {}
    for key, value in state_dict.items():
        if key.startswith(_DROPPED_PREFIXES):
            continue
        # The original TimeSformer's name of the temporal norm.
        key = key.replace('.temporal_norm1.', '.temporal_norm.')
        if key == 'patch_embed.proj.weight':
            size = list(model.patch_embed.proj.weight.shape[-2:])
            if value.dim() == 4 and list(value.shape[-2:]) != size:
                value = resample_patch_embed(value, size)
        out[key] = value

    for i, block in enumerate(model.blocks):
        prefix = f'blocks.{i}.'
        if not any(k.startswith(prefix + 'temporal_attn.') for k in out):
            for key in list(out):
                if key.startswith(prefix + 'attn.'):
                    new_key = prefix + 'temporal_' + key[len(prefix):]
                    out[new_key] = out[key].clone()
        if not any(k.startswith(prefix + 'temporal_norm.') for k in out):
            for name in ('weight', 'bias'):
                if prefix + 'norm1.' + name in out:
                    out[prefix + 'temporal_norm.' +
                        name] = out[prefix + 'norm1.' + name].clone()
        for name, param in block.temporal_fc.named_parameters():
            out.setdefault(prefix + 'temporal_fc.' + name,
                           torch.zeros_like(param, device='cpu'))
    out.setdefault('time_embed',
                   torch.zeros_like(model.time_embed, device='cpu'))
    model.fit_embeddings(out)
    return out
