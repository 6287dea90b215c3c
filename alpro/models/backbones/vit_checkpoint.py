"""Read a local image-model checkpoint into a plain state dict.

Backbones load their ``pretrained`` weights through these helpers inside
``init_weights()``. Nothing here downloads: a missing file is an error that
names the path and says how to make it on a machine with network.
"""
import os
import os.path as osp
from typing import Dict, Optional, Union

import torch

from alpro.utils.checkpoint import load_checkpoint_safely

__all__ = [
    'VIT_WEIGHTS_HINT', 'check_pretrained_file', 'load_state_dict_file',
    'load_vit_npz'
]

#: How to obtain an ImageNet ViT checkpoint when it is missing.
VIT_WEIGHTS_HINT = (
    "save timm's vit_base_patch16_224.augreg_in21k_ft_in1k weights there on "
    'a machine with network, e.g. `import timm, safetensors.torch; '
    'safetensors.torch.save_file(timm.create_model('
    "'vit_base_patch16_224.augreg_in21k_ft_in1k', pretrained=True)"
    '.state_dict(), PATH)` (or `torch.save(state_dict, PATH)` for a .pth), '
    "or give the original Google .npz file; alpro never downloads")

PathLike = Union[str, os.PathLike]

# Keys under which training frameworks nest the model's weights.
_WRAPPER_KEYS = ('state_dict', 'model', 'module')


def check_pretrained_file(path: PathLike, hint: str = VIT_WEIGHTS_HINT) -> str:
    """Return ``path`` expanded, or raise if it is not a file.

    Args:
        path: local checkpoint path.
        hint: how to obtain the file, appended to the error message.

    Raises:
        FileNotFoundError: no file at ``path``; the message names it.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'pretrained weights {path!r} not found: {hint}.')
    return path


def load_state_dict_file(
        path: PathLike,
        hint: str = VIT_WEIGHTS_HINT) -> Dict[str, torch.Tensor]:
    """Load a ``.safetensors``, ``.pth``, ``.pt`` or ``.bin`` file.

    Pickled files load with ``torch.load(weights_only=True)``; a top-level
    ``state_dict``, ``model`` or ``module`` entry that holds the tensors is
    unwrapped.

    Args:
        path: local checkpoint path.
        hint: how to obtain the file if it is missing.

    Returns:
        name -> tensor, on the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a ``.npz`` file (it needs a model to be read, see
            :func:`load_vit_npz`) or a file that holds no state dict.
    """
    path = check_pretrained_file(path, hint)
    if path.endswith('.npz'):
        raise ValueError(
            f'{path} is a JAX .npz checkpoint; read it with load_vit_npz(), '
            'which needs the model dimensions')
    if path.endswith('.safetensors'):
        import safetensors.torch
        return safetensors.torch.load_file(path, device='cpu')
    checkpoint = load_checkpoint_safely(path, map_location='cpu')
    for key in _WRAPPER_KEYS:
        if isinstance(checkpoint, dict) and isinstance(
                checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    if not isinstance(checkpoint, dict) or not all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(f'{path} holds no state dict (name -> tensor); save '
                         '`model.state_dict()`')
    return checkpoint


def load_vit_npz(path: PathLike,
                 *,
                 img_size: Union[int, tuple] = 224,
                 patch_size: int = 16,
                 in_chans: int = 3,
                 embed_dim: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 hint: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """Read an original Google JAX ViT ``.npz`` into timm's key layout.

    The layout of those files is model specific, so a timm
    ``VisionTransformer`` of the given dimensions is built and filled by
    timm's own npz reader (``VisionTransformer.load_pretrained``), which also
    resamples the position embedding to ``img_size // patch_size``.

    Args:
        path: local ``.npz`` path.
        img_size, patch_size, in_chans, embed_dim, depth, num_heads,
            mlp_ratio, qkv_bias: the ViT the file was trained as (the
            dimensions must match the file; ``img_size`` may differ).
        hint: how to obtain the file if it is missing.

    Returns:
        the ViT's state dict (timm names, no classifier head).
    """
    from timm.models.vision_transformer import VisionTransformer
    path = check_pretrained_file(path, hint or VIT_WEIGHTS_HINT)
    vit = VisionTransformer(
        img_size=img_size,
        patch_size=patch_size,
        in_chans=in_chans,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        qkv_bias=qkv_bias,
        num_classes=0,
        weight_init='skip')
    try:
        vit.load_pretrained(path)
    except (KeyError, RuntimeError) as error:
        raise ValueError(
            f'{path} does not fit a ViT with embed_dim={embed_dim}, '
            f'depth={depth}, num_heads={num_heads}, patch_size={patch_size}: '
            f'{error!r}') from error
    return vit.state_dict()
