"""TimeSformer: divided space-time attention, built from timm's layers."""
import inspect
import logging
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize
from timm.layers import (LayerNorm, PatchEmbed, resample_abs_pos_embed,
                         trunc_normal_)
from torch.utils.checkpoint import checkpoint

from alpro.registry import BACKBONES
from alpro.utils.checkpoint import load_state_dict_checked
from alpro.utils.random_weights import reads_weight_files
from .divided_space_time_block import DividedSpaceTimeBlock
from .timesformer_weights import (resample_pos_embed, resample_time_embed,
                                  vit_to_timesformer)
from .vit_checkpoint import load_state_dict_file, load_vit_npz

__all__ = ['TimeSformer', 'DividedSpaceTimeBlock', 'vit_to_timesformer']

TIME_EMBED_RESIZE_MODES = ('linear', 'nearest')


@BACKBONES.register_module()
class TimeSformer(BaseModule):
    """TimeSformer video encoder with divided space-time attention.

    Bertasius et al., "Is Space-Time Attention All You Need for Video
    Understanding?" (ICML 2021), as ALPRO uses it: initialised from an
    ImageNet ViT, with every block's temporal output projection
    (``temporal_fc``) zero-initialised and ``time_embed`` zero, so that a
    fresh model starts as the image model: on one frame, or a clip of
    identical frames, its output equals the ViT's tokens of that frame
    (frames still meet through the shared [CLS], averaged over T). The
    original TimeSformer code leaves block 0's ``temporal_fc`` random; we
    zero it in every block, as the paper describes.

    Input ``(B, C, T, H, W)``, already normalised. Output ``(B, 1 + N, D)``:
    token 0 is the video [CLS], then the ``N = (H / p) * (W / p)`` patch
    tokens (row-major over the patch grid), each averaged over time.
    Another ``H, W`` or ``T`` than built for works: the position and time
    embeddings are resampled on the fly. A checkpoint whose ``pos_embed`` or
    ``time_embed`` was made for another grid or clip length is resampled
    once, when it is loaded (a ``load_state_dict`` pre-hook, so MMEngine's
    ``load_from`` and ``init_cfg`` get it too), and the resize is logged.

    Args:
        arch: ``'base'`` (D 768, depth 12, 12 heads), ``'small'`` (384, 12,
            6), ``'tiny'`` (64, 2, 2, mlp_ratio 2; tests and demos), or a
            dict with the presets' keys: ``embed_dims``, ``depth``,
            ``num_heads`` and optionally ``mlp_ratio`` (default 4); a
            missing or unknown key is a ``ValueError`` naming it.
        img_size: frame size the position embedding is built for, int or
            ``(H, W)``.
        patch_size: p, the side of a square patch.
        num_frames: T the time embedding is built for (input frames).
        tubelet_size: k, frames per patch: ``1`` (ALPRO, TimeSformer: each
            frame is cut into patches on its own) or more, a ``k x p x p``
            tubelet embedding (ViViT, VideoMAE) whose tokens see the motion
            between neighbouring frames; the T frames become ``T / k`` time
            steps. A 2-D (image or ``k = 1``) ``patch_embed`` is inflated
            on load: copied to every frame of the tubelet and divided by
            ``k``, so that a still clip gives the image model's tokens.
        time_embed_resize: how ``time_embed`` is resampled to another T,
            at load time and at run time: ``'linear'`` (our default) or
            ``'nearest'`` (the ALPRO release, whose fine-tuning resizes the
            4-frame embedding of pre-training to 8 or 16 frames so; frame
            ``t`` of T' takes entry ``floor(t * T / T')``).
        in_channels: C.
        drop_rate: dropout on the embedded tokens and after projections.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: stochastic depth, rising linearly to this over the
            blocks.
        qkv_bias: bias on the qkv projections.
        with_cp: checkpoint each block's activations in training (saves
            memory, costs a second forward).
        frame_tokens: also return the patch tokens of every time step,
            after the time-pooled ones (``(B, 1 + N + T' * N, D)``), for
            the fusion layers to compare where things are at each time.
            Off in ALPRO, whose fusion layers see the pooled tokens only.
        pretrained: local ImageNet ViT (``.safetensors``, ``.pth``, ``.bin``
            or Google ``.npz``) or TimeSformer checkpoint, loaded by
            :meth:`init_weights` through :func:`vit_to_timesformer`.
        init_cfg: MMEngine init config, applied after the above.
    """
    arch_zoo: Dict[str, dict] = {
        'base': dict(embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.),
        'small': dict(embed_dims=384, depth=12, num_heads=6, mlp_ratio=4.),
        'tiny': dict(embed_dims=64, depth=2, num_heads=2, mlp_ratio=2.),
    }
    #: What a custom ``arch`` dict may leave out; every other key of the
    #: presets it must give.
    arch_defaults: Dict[str, float] = dict(mlp_ratio=4.)

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 num_frames: int = 4,
                 tubelet_size: int = 1,
                 time_embed_resize: str = 'linear',
                 in_channels: int = 3,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 qkv_bias: bool = True,
                 with_cp: bool = False,
                 frame_tokens: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._parse_arch(arch)
        self.embed_dims = D = self.arch_settings['embed_dims']
        self.depth = self.arch_settings['depth']
        self.num_heads = self.arch_settings['num_heads']
        self.mlp_ratio = self.arch_settings['mlp_ratio']
        self.patch_size = int(patch_size)
        self.num_frames = int(num_frames)
        self.tubelet_size = int(tubelet_size)
        if self.tubelet_size < 1 or self.num_frames % self.tubelet_size:
            raise ValueError(
                f'tubelet_size must be a positive divisor of num_frames '
                f'({self.num_frames}), got {tubelet_size!r}')
        if time_embed_resize not in TIME_EMBED_RESIZE_MODES:
            raise ValueError(
                f'time_embed_resize must be one of {TIME_EMBED_RESIZE_MODES}'
                f', got {time_embed_resize!r}')
        self.time_embed_resize = time_embed_resize
        self.in_channels = in_channels
        self.qkv_bias = qkv_bias
        self.pretrained = pretrained

        # Not strict: other frame sizes are allowed (pos_embed resampled).
        self.patch_embed = PatchEmbed(
            img_size=img_size,
            patch_size=self.patch_size,
            in_chans=in_channels * self.tubelet_size,
            embed_dim=D,
            strict_img_size=False)
        self.img_size = self.patch_embed.img_size
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + num_patches, D))
        self.time_embed = nn.Parameter(
            torch.zeros(1, self.num_frames // self.tubelet_size, D))
        self.pos_drop = nn.Dropout(drop_rate)

        rates = torch.linspace(0, drop_path_rate, self.depth).tolist()
        self.blocks = nn.ModuleList([
            DividedSpaceTimeBlock(
                D,
                self.num_heads,
                mlp_ratio=self.mlp_ratio,
                qkv_bias=qkv_bias,
                proj_drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=rate) for rate in rates
        ])
        self.norm = LayerNorm(D)
        self.grad_checkpointing = with_cp
        self.frame_tokens = frame_tokens
        # A usable model right away; init_weights() redoes it (or loads).
        self._random_init()
        self.register_load_state_dict_pre_hook(_fit_embeddings_on_load)

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> dict:
        """A preset's settings, or a custom dict's with its defaults.

        Raises:
            ValueError: an unknown preset; a dict that misses a required
                key or has a key no preset has (the message names them).
            TypeError: ``arch`` is neither a name nor a dict.
        """
        if isinstance(arch, str):
            if arch not in cls.arch_zoo:
                raise ValueError(f'TimeSformer arch {arch!r} is not one of '
                                 f'{sorted(cls.arch_zoo)}; or pass a dict')
            return dict(cls.arch_zoo[arch])
        if not isinstance(arch, dict):
            raise TypeError('TimeSformer arch must be a preset name or a '
                            f'dict, got {type(arch).__name__}')
        known = set().union(*cls.arch_zoo.values())
        required = known - set(cls.arch_defaults)
        missing, unknown = required - set(arch), set(arch) - known
        problems = [f'missing {sorted(missing)}'] if missing else []
        if unknown:
            problems.append(f'unknown {sorted(unknown)}')
            arguments = unknown & set(inspect.signature(cls).parameters)
            if arguments:
                problems[-1] += (f' ({sorted(arguments)}: arguments of '
                                 'TimeSformer itself, not arch keys)')
        if problems:
            raise ValueError(
                f'TimeSformer arch dict: {" and ".join(problems)}; it needs '
                f'{sorted(required)} and may give {cls.arch_defaults} '
                '(the defaults shown)')
        return {**cls.arch_defaults, **arch}

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Checkpoint every block's activations in training (or not)."""
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        """Parameters that should not be weight-decayed."""
        return {'pos_embed', 'cls_token', 'time_embed'}

    # ------------------------------------------------------------ weights
    def _random_init(self) -> None:
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        nn.init.zeros_(self.time_embed)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.LayerNorm, nn.Conv2d)):
                module.reset_parameters()
        for block in self.blocks:
            nn.init.zeros_(block.temporal_fc.weight)
            nn.init.zeros_(block.temporal_fc.bias)

    def init_weights(self) -> None:
        """Load ``pretrained`` if set, else initialise randomly.

        Loading happens here, not in ``__init__``, because MMEngine's Runner
        calls ``init_weights()`` on every child before training. Once done,
        later calls do nothing (as MMEngine's ``BaseModule``), so weights
        loaded here or afterwards survive.
        """
        if self._is_init:
            print_log(
                f'{type(self).__name__} is already initialised; '
                'init_weights() does nothing',
                logger='current',
                level=logging.DEBUG)
            return
        self._random_init()
        if self.pretrained and reads_weight_files():
            self._load_pretrained(self.pretrained)
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    def _load_pretrained(self, path: str) -> None:
        if str(path).endswith('.npz'):
            state_dict = load_vit_npz(
                path,
                img_size=self.img_size,
                patch_size=self.patch_size,
                in_chans=self.in_channels,
                embed_dim=self.embed_dims,
                depth=self.depth,
                num_heads=self.num_heads,
                mlp_ratio=self.mlp_ratio,
                qkv_bias=self.qkv_bias)
        else:
            state_dict = load_state_dict_file(path)
        state_dict = vit_to_timesformer(state_dict, self)
        incompatible = load_state_dict_checked(self, state_dict, source=path)
        print_log(
            f'{type(self).__name__}: loaded {len(state_dict)} tensors from '
            f'{path}; missing keys (left randomly initialised): '
            f'{incompatible.missing_keys or "none"}; unexpected keys '
            f'(ignored): {incompatible.unexpected_keys or "none"}',
            logger='current',
            level=logging.WARNING if incompatible.missing_keys
            or incompatible.unexpected_keys else logging.INFO)

    # ------------------------------------------------------------ forward
    def _pos_embed_for(self, grid: Tuple[int, int]) -> torch.Tensor:
        if tuple(grid) == tuple(self.patch_embed.grid_size):
            return self.pos_embed
        return resample_abs_pos_embed(
            self.pos_embed,
            new_size=list(grid),
            old_size=list(self.patch_embed.grid_size),
            num_prefix_tokens=1)

    def _time_embed_for(self, num_frames: int) -> torch.Tensor:
        if num_frames == self.time_embed.shape[1]:
            return self.time_embed
        return resample_time_embed(self.time_embed, num_frames,
                                   self.time_embed_resize)

    def fit_embeddings(self,
                       state_dict: Dict[str, torch.Tensor],
                       prefix: str = '') -> None:
        """Resample, in place, a state dict's ``pos_embed`` (to this
        model's patch grid) and ``time_embed`` (to its ``num_frames /
        tubelet_size`` time steps, by ``time_embed_resize``) where they
        were made for other sizes, and inflate a 2-D ``patch_embed`` to
        this model's tubelets.

        Args:
            state_dict: name -> tensor, this model's keys under ``prefix``.
            prefix: the model's key prefix in ``state_dict``.
        """
        key = prefix + 'pos_embed'
        if key in state_dict:
            state_dict[key] = resample_pos_embed(state_dict[key], self)
        key = prefix + 'time_embed'
        value = state_dict.get(key)
        steps = self.time_embed.shape[1]
        if value is not None and value.dim() == 3 and \
                value.shape[1] != steps:
            state_dict[key] = resample_time_embed(value, steps,
                                                  self.time_embed_resize)
            unit = 'frames' if self.tubelet_size == 1 else \
                f'tubelets of {self.tubelet_size} frames'
            print_log(
                f'{key} resized from {value.shape[1]} to {steps} {unit} '
                f'({self.time_embed_resize})',
                logger='current')
        key = prefix + 'patch_embed.proj.weight'
        value = state_dict.get(key)
        k = self.tubelet_size
        if value is not None and k > 1 and value.dim() == 4 and \
                value.shape[1] == self.in_channels:
            # (D, C, p, p) -> (D, C * k, p, p), channel c * k + dt
            state_dict[key] = value.repeat_interleave(k, dim=1) / k
            print_log(
                f'{key} inflated from {self.in_channels} channels to '
                f'{k}-frame tubelets (copied to each frame, divided by {k})',
                logger='current')

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """
        Args:
            video: ``(B, C, T, H, W)`` float, normalised; ``H`` and ``W``
                multiples of ``patch_size``.

        Returns:
            ``(B, 1 + N, D)``: the video [CLS], then the ``N = H/p * W/p``
            patch tokens averaged over time, row-major over the patch grid;
            with ``frame_tokens``, ``(B, 1 + N + T' * N, D)``: then the
            patch tokens of each of the ``T' = T / tubelet_size`` time
            steps in order.
        """
        if video.dim() != 5:
            raise ValueError(f'{type(self).__name__} expects a (B, C, T, H, '
                             f'W) video, got shape {tuple(video.shape)}')
        B, C, T, H, W = video.shape
        p, k = self.patch_size, self.tubelet_size
        if H % p or W % p:
            raise ValueError(f'frame size {H}x{W} is not a multiple of the '
                             f'patch size {p}')
        if T % k:
            raise ValueError(f'{T} frames do not split into tubelets of {k}')
        grid = (H // p, W // p)
        N, D = grid[0] * grid[1], self.embed_dims

        # (B, C, T, H, W) -> (B * T/k, C * k, H, W), channel c * k + dt
        T = T // k
        x = self.patch_embed(
            video.reshape(B, C, T, k, H,
                          W).transpose(1, 2).reshape(B * T, C * k, H, W))
        pos_embed = self._pos_embed_for(grid)
        x = x + pos_embed[:, 1:]
        x = x.reshape(B, T, N, D) + self._time_embed_for(T).unsqueeze(2)
        cls = (self.cls_token + pos_embed[:, :1]).expand(B, -1, -1)
        x = self.pos_drop(torch.cat([cls, x.reshape(B, T * N, D)], dim=1))

        use_cp = (
            self.grad_checkpointing and self.training
            and torch.is_grad_enabled())
        for block in self.blocks:
            if use_cp:
                x = checkpoint(block, x, T, use_reentrant=False)
            else:
                x = block(x, T)
        x = self.norm(x)
        pooled = x[:, 1:].reshape(B, T, N, D).mean(1)
        if self.frame_tokens:
            return torch.cat([x[:, :1], pooled, x[:, 1:]], dim=1)
        return torch.cat([x[:, :1], pooled], dim=1)


def _fit_embeddings_on_load(model: TimeSformer, state_dict: dict, prefix: str,
                            *args) -> None:
    """``load_state_dict`` pre-hook: see :meth:`TimeSformer.fit_embeddings`.
    """
    model.fit_embeddings(state_dict, prefix)
