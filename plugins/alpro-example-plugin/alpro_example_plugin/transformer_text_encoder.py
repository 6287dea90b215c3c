"""A text encoder from PyTorch's own transformer layers."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import TEXT_ENCODERS

__all__ = ['TransformerTextFusionEncoder']


@TEXT_ENCODERS.register_module()
class TransformerTextFusionEncoder(BaseModule):
    """Token and position embeddings, ``num_text_layers`` of
    ``nn.TransformerEncoderLayer`` for the text, ``num_fusion_layers`` more
    over ``[text ; video]``: alpro's text encoder contract
    (:mod:`alpro.models.text_encoders.contract`) without transformers, for
    a tokenizer and a width of one's own (trained from scratch).

    Args:
        vocab_size: the token ids it embeds (at least the tokenizer's).
        hidden_size: D.
        num_heads: attention heads per layer.
        num_text_layers: layers of :meth:`encode_text`.
        num_fusion_layers: layers of :meth:`fuse`.
        max_length: the longest text (position embeddings).
        dropout: dropout in every layer.
        layer_norm_eps: the LayerNorms' epsilon.
        text_only: no fusion layers (a stage-1 prompter's text encoder).
        init_cfg: MMEngine initialisation config.
    """

    def __init__(self,
                 vocab_size: int,
                 hidden_size: int = 256,
                 num_heads: int = 4,
                 num_text_layers: int = 2,
                 num_fusion_layers: int = 2,
                 max_length: int = 64,
                 dropout: float = 0.1,
                 layer_norm_eps: float = 1e-5,
                 text_only: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_length = max_length
        self.layer_norm_eps = layer_norm_eps
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size)
        self.position_embeddings = nn.Embedding(max_length, hidden_size)
        self.embed_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

        def layers(count: int) -> nn.ModuleList:
            return nn.ModuleList(
                nn.TransformerEncoderLayer(
                    hidden_size,
                    num_heads,
                    4 * hidden_size,
                    dropout,
                    activation='gelu',
                    layer_norm_eps=layer_norm_eps,
                    batch_first=True) for _ in range(count))

        self.text_layers = layers(num_text_layers)
        self.fusion_layers = layers(0 if text_only else num_fusion_layers)

    @staticmethod
    def _run(layers: nn.ModuleList, hidden: Tensor, mask: Tensor) -> Tensor:
        padding = ~mask.bool()
        for layer in layers:
            hidden = layer(hidden, src_key_padding_mask=padding)
        return hidden

    def encode_text(self, text_ids: Tensor, text_mask: Tensor) -> Tensor:
        """``(B, L)`` ids and mask -> ``(B, L, D)``, position 0 the [CLS]."""
        length = text_ids.size(1)
        if length > self.max_length:
            raise ValueError(f'{length} tokens: longer than max_length='
                             f'{self.max_length}')
        positions = torch.arange(length, device=text_ids.device)
        hidden = self.embed_norm(
            self.word_embeddings(text_ids) +
            self.position_embeddings(positions))
        return self._run(self.text_layers, hidden, text_mask)

    def fuse(self, text_embeds: Tensor, text_mask: Tensor,
             video_embeds: Tensor) -> Tensor:
        """Text ``(B, L, D)`` and video tokens ``(B, V, D)`` -> ``(B, L + V,
        D)`` fused by self-attention over ``[text ; video]``."""
        if not len(self.fusion_layers):
            raise RuntimeError('built with text_only=True: no fusion layers')
        hidden = torch.cat([text_embeds, video_embeds], dim=1)
        mask = torch.cat(
            [text_mask, text_mask.new_ones(video_embeds.shape[:2])], dim=1)
        return self._run(self.fusion_layers, hidden, mask)

    def forward(self, text_ids: Tensor, text_mask: Tensor) -> Tensor:
        """:meth:`encode_text`."""
        return self.encode_text(text_ids, text_mask)
