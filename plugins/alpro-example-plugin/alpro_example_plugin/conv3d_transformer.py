"""A tubelet-embedding video transformer (ViViT-style joint attention)."""
import logging
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize
from timm.layers import LayerNorm, trunc_normal_
from timm.models.vision_transformer import Block

from alpro.models.backbones.vit_checkpoint import load_state_dict_file
from alpro.registry import BACKBONES
from alpro.utils import reads_weight_files

__all__ = ['Conv3dTransformer']


@BACKBONES.register_module()
class Conv3dTransformer(BaseModule):
    """Conv3d tubelet stem, then timm ``Block``s over all space-time tokens.

    A ``(tubelet_size, p, p)`` Conv3d with the same stride cuts the clip
    into tubelets; a [CLS] token and a learned space-time position
    embedding are added and every block attends jointly over all
    ``1 + T/tubelet * N`` tokens. It follows alpro's video backbone
    contract (:mod:`alpro.models.backbones.contract`): input
    ``(B, C, T, H, W)``, output ``(B, 1 + N, D)`` -- the [CLS], then the
    ``N = H/p * W/p`` patch tokens (row-major) averaged over time. A T
    that is not a multiple of ``tubelet_size`` is padded by repeating the
    last frame; another size than built for resamples the position
    embedding (trilinear).

    Args:
        img_size: frame size the position embedding is built for.
        patch_size: p, the side of a square patch.
        num_frames: T the position embedding is built for.
        tubelet_size: frames per tubelet.
        in_channels: C.
        embed_dims: D.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width over D.
        qkv_bias: bias on the qkv projections.
        drop_rate: dropout on embeddings and projections.
        drop_path_rate: stochastic depth, rising linearly over the blocks.
        pretrained: a local state dict of this model (``.safetensors`` or
            ``.pth``), loaded by :meth:`init_weights`.
        init_cfg: MMEngine init config, applied after the above.
    """

    def __init__(self,
                 img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 num_frames: int = 4,
                 tubelet_size: int = 2,
                 in_channels: int = 3,
                 embed_dims: int = 64,
                 depth: int = 2,
                 num_heads: int = 2,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        self.embed_dims = embed_dims
        self.patch_size = int(patch_size)
        self.num_frames = int(num_frames)
        self.tubelet_size = int(tubelet_size)
        self.pretrained = pretrained
        self.grid_size = (
            -(-self.num_frames // self.tubelet_size),
            img_size[0] // self.patch_size,
            img_size[1] // self.patch_size,
        )
        t, h, w = self.grid_size

        self.proj = nn.Conv3d(
            in_channels,
            embed_dims,
            kernel_size=(self.tubelet_size, self.patch_size, self.patch_size),
            stride=(self.tubelet_size, self.patch_size, self.patch_size))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.cls_pos_embed = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, t * h * w, embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.Sequential(*[
            Block(
                embed_dims,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                proj_drop=drop_rate,
                drop_path=rate) for rate in rates
        ])
        self.norm = LayerNorm(embed_dims)
        self._random_init()

    def _random_init(self) -> None:
        for param in (self.cls_token, self.cls_pos_embed, self.pos_embed):
            trunc_normal_(param, std=.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.LayerNorm, nn.Conv3d)):
                module.reset_parameters()

    def init_weights(self) -> None:
        """Load ``pretrained`` if set (and files are read: not under
        ``alpro.utils.init_random_weights``), else initialise randomly;
        once."""
        if self._is_init:
            return
        self._random_init()
        if self.pretrained and reads_weight_files():
            state_dict = load_state_dict_file(
                self.pretrained,
                hint='save `Conv3dTransformer(...).state_dict()` there')
            incompatible = self.load_state_dict(state_dict, strict=False)
            print_log(
                f'Conv3dTransformer: loaded {self.pretrained}; missing '
                f'keys: {incompatible.missing_keys or "none"}; unexpected '
                f'keys: {incompatible.unexpected_keys or "none"}',
                logger='current',
                level=logging.INFO)
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    def _pos_embed_for(self, grid: Tuple[int, int, int]) -> torch.Tensor:
        if tuple(grid) == self.grid_size:
            return self.pos_embed
        pos = self.pos_embed.reshape(1, *self.grid_size, -1)
        pos = F.interpolate(
            pos.permute(0, 4, 1, 2, 3),
            size=grid,
            mode='trilinear',
            align_corners=False)
        return pos.permute(0, 2, 3, 4, 1).flatten(1, 3)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """
        Args:
            video: ``(B, C, T, H, W)`` float, normalised.

        Returns:
            ``(B, 1 + N, D)``: [CLS] then N patch tokens, averaged over time.
        """
        B, C, T, H, W = video.shape
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(f'frame size {H}x{W} is not a multiple of the '
                             f'patch size {self.patch_size}')
        pad = -T % self.tubelet_size
        if pad:
            # Repeat the last frame rather than refuse an odd clip length.
            video = torch.cat(
                [video, video[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2)
        x = self.proj(video)  # (B, D, t, h, w)
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2) + self._pos_embed_for(grid)
        cls = (self.cls_token + self.cls_pos_embed).expand(B, -1, -1)
        x = self.blocks(self.pos_drop(torch.cat([cls, x], dim=1)))
        x = self.norm(x)
        t, h, w = grid
        patches = x[:, 1:].reshape(B, t, h * w, -1).mean(1)
        return torch.cat([x[:, :1], patches], dim=1)
