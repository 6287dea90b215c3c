"""A deliberately small video-text model for tests of the training plumbing.

It is not part of alpro: real algorithms live in ``alpro/models/algorithms``.
It scores every clip against every caption in the batch (mean colour of the
clip vs. a bag of word embeddings) and trains with a contrastive loss, so the
whole path -- dataset, transforms, preprocessor, Runner, hooks, checkpoints,
DDP -- runs as it does for a real model.
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from alpro.registry import MODELS


@MODELS.register_module()
class ToyVideoTextModel(BaseModel):
    """Args: dim: embedding width; data_preprocessor: its config."""

    def __init__(self,
                 dim: int = 16,
                 data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        vocab_size = len(self.data_preprocessor.tokenizer)
        self.video_proj = nn.Linear(3, dim)
        self.text_embed = nn.Embedding(vocab_size, dim)

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Dict[str, torch.Tensor]:
        # video (B, C, T, H, W) -> (B, dim); text (B, L) -> (B, dim)
        video = inputs['video']
        v = F.normalize(self.video_proj(video.mean((2, 3, 4))), dim=-1)
        mask = inputs['text_mask'].unsqueeze(-1).float()
        t = (self.text_embed(inputs['text_ids']) * mask).sum(1) / mask.sum(1)
        logits = v @ F.normalize(t, dim=-1).T / 0.1
        if mode == 'loss':
            target = torch.arange(len(logits), device=logits.device)
            return dict(loss=F.cross_entropy(logits, target))
        return dict(logits=logits)
