"""The block of TimeSformer: temporal attention, spatial attention, MLP."""
import torch
import torch.nn as nn
from timm.layers import Attention, DropPath, LayerNorm, Mlp

__all__ = ['DividedSpaceTimeBlock']


class DividedSpaceTimeBlock(nn.Module):
    """One TimeSformer block: temporal attention, spatial attention, MLP.

    The spatial parts carry the names of timm's ViT ``Block`` (``norm1``,
    ``attn``, ``ls1``, ``drop_path1``, ``norm2``, ``mlp``, ``ls2``,
    ``drop_path2``) so that ViT weights load by name; the temporal branch is
    ``temporal_norm`` -> ``temporal_attn`` -> ``temporal_fc``.

    Tokens are ``(B, 1 + T * N, D)``: the video [CLS], then the patch tokens
    frame by frame (index ``t * N + n``).

    Args:
        dim: token width D.
        num_heads: attention heads of both attentions.
        mlp_ratio: MLP hidden width over D.
        qkv_bias: bias on the qkv projections.
        proj_drop: dropout after the attention and MLP projections.
        attn_drop: dropout on the attention weights.
        drop_path: stochastic depth rate of the three residual branches.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 proj_drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.) -> None:
        super().__init__()
        attn_kwargs = dict(
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop)
        self.temporal_norm = LayerNorm(dim)
        self.temporal_attn = Attention(dim, **attn_kwargs)
        # Zero-initialised, so that a fresh block is its image block.
        self.temporal_fc = nn.Linear(dim, dim)

        self.norm1 = LayerNorm(dim)
        self.attn = Attention(dim, **attn_kwargs)
        self.ls1 = nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path else nn.Identity()
        self.norm2 = LayerNorm(dim)
        self.mlp = Mlp(
            in_features=dim,
            hidden_features=int(dim * mlp_ratio),
            drop=proj_drop)
        self.ls2 = nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path else nn.Identity()

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """
        Args:
            x: ``(B, 1 + T * N, D)`` tokens.
            num_frames: T.

        Returns:
            ``(B, 1 + T * N, D)``.
        """
        B, L, D = x.shape
        T = num_frames
        N = (L - 1) // T
        cls, patches = x[:, :1], x[:, 1:]

        # Temporal attention: the T tokens of each patch position.
        xt = patches.reshape(B, T, N, D).transpose(1, 2).reshape(B * N, T, D)
        res = self.temporal_fc(self.temporal_attn(self.temporal_norm(xt)))
        # Back to (B, T * N, D) before DropPath, so that stochastic depth
        # drops the branch per sample, not per patch position.
        res = res.reshape(B, N, T, D).transpose(1, 2).reshape(B, T * N, D)
        patches = patches + self.drop_path1(res)

        # Spatial attention: [CLS ; N patches] of each frame, the [CLS]
        # copied to every frame and its T outputs averaged back into one.
        frame_cls = cls.expand(B, T, D).reshape(B * T, 1, D)
        xs = torch.cat([frame_cls, patches.reshape(B * T, N, D)], dim=1)
        res = self.ls1(self.attn(self.norm1(xs)))
        res_cls = res[:, :1].reshape(B, T, D).mean(1, keepdim=True)
        res = torch.cat([res_cls, res[:, 1:].reshape(B, T * N, D)], dim=1)
        x = torch.cat([cls, patches], dim=1) + self.drop_path1(res)

        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
