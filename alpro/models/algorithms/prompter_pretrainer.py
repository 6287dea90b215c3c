"""ALPRO stage 1: the prompter, a video-text dual encoder trained with VTC."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from alpro.registry import LOSSES, MODELS
from alpro.structures import VideoTextDataSample
from .base_video_text_model import BaseVideoTextModel

__all__ = ['PrompterPretrainer']


@MODELS.register_module()
class PrompterPretrainer(BaseVideoTextModel):
    """Video encoder + text encoder + 256-d projections, trained with VTC.

    ALPRO's prompter (paper section 3.3): the same video encoder as the main
    model and the text layers of BERT, each [CLS] projected to a shared
    space and aligned by the video-text contrastive loss. Once trained and
    frozen it scores video crops against entity prompts for PEM.

    With ``order_negatives`` VTC also learns the direction of time: each
    clip's reversed frames are one more negative of its caption and each
    caption with its direction words swapped one more negative of its clip
    (:class:`~alpro.models.samplers.OrderNegatives`; not in ALPRO).

    Args:
        backbone: a ``BACKBONES`` config (output ``(B, 1 + N, Dv)``).
        text_encoder: a ``TEXT_ENCODERS`` config; the prompter uses only
            ``encode_text``, so ``text_only=True`` saves the fusion layers.
        vtc_loss: a ``LOSSES`` config.
        embed_dim: width of the shared space (256 in ALPRO).
        order_negatives: ``None`` (off) or the arguments of
            :class:`~alpro.models.samplers.OrderNegatives` (its ``vtm`` is
            ignored: the prompter has no VTM).
        data_preprocessor: a ``MODELS`` config.
        init_cfg: MMEngine's initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 vtc_loss: dict = dict(type='VTCLoss'),
                 embed_dim: int = 256,
                 order_negatives: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, text_encoder, data_preprocessor, init_cfg)
        self.vision_proj = nn.Linear(self.backbone.embed_dims, embed_dim)
        self.text_proj = nn.Linear(self.text_encoder.hidden_size, embed_dim)
        self.vtc_loss = LOSSES.build(vtc_loss)
        self.order_negatives = self.build_order_negatives(
            order_negatives, tasks=('vtc', ))

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> normalised ``(B, embed_dim)``."""
        cls = self.backbone(video)[:, 0]
        return F.normalize(self.vision_proj(cls), dim=-1)

    def encode_text(self, text_ids: torch.Tensor,
                    text_mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids and mask -> normalised ``(B, embed_dim)``."""
        cls = self.text_encoder.encode_text(text_ids, text_mask)[:, 0]
        return F.normalize(self.text_proj(cls), dim=-1)

    def loss(self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``dict(loss_vtc, temperature)`` of a batch of pairs."""
        video_feat = self.encode_video(inputs['video'])
        text_ids, text_mask = inputs['text_ids'], inputs['text_mask']
        text_feat = self.encode_text(text_ids, text_mask)
        out = dict(temperature=self.vtc_loss.temp.detach())
        order = self.order_negatives
        if order is None:
            out['loss_vtc'] = self.vtc_loss(video_feat, text_feat)
            return out
        reversed_clips = swapped_captions = None
        if order.reverse_clips:
            reversed_clips = (self.encode_video(inputs['video'].flip(2)),
                              order.reversed_valid(text_ids,
                                                   inputs.get('is_image')))
        if order.swap_captions:
            swapped_ids, swapped_valid = order.swap(text_ids)
            swapped_captions = (self.encode_text(swapped_ids,
                                                 text_mask), swapped_valid)
        sim_v2t, sim_t2v = order.vtc_logits(
            *self.vtc_loss.similarity(video_feat, text_feat),
            video_feat,
            text_feat,
            self.vtc_loss.clamped_temperature(),
            reversed_clips=reversed_clips,
            swapped_captions=swapped_captions)
        out['loss_vtc'] = self.vtc_loss.loss_from_similarity(sim_v2t, sim_t2v)
        return out

    def forward(
            self,
            inputs: Dict[str, torch.Tensor],
            data_samples: Optional[List[VideoTextDataSample]] = None,
            mode: str = 'tensor'
    ) -> Union[Dict[str, torch.Tensor], List, Tuple]:
        """Run the dual encoder.

        Args:
            inputs: ``video`` ``(B, C, T, H, W)``, ``text_ids`` and
                ``text_mask`` ``(B, L)``, from the data preprocessor.
            data_samples: one per pair.
            mode: ``'loss'`` -> ``dict(loss_vtc, temperature)``;
                ``'predict'`` -> the data samples with ``video_embed`` and
                ``text_embed`` ``(embed_dim,)``; ``'tensor'`` -> the two
                ``(B, embed_dim)`` embeddings.
        """
        if mode == 'loss':
            return self.loss(inputs)
        video_feat = self.encode_video(inputs['video'])
        text_feat = self.encode_text(inputs['text_ids'], inputs['text_mask'])
        return embedding_outputs(mode, video_feat, text_feat, data_samples)


def embedding_outputs(mode: str, video_feat: torch.Tensor,
                      text_feat: torch.Tensor,
                      data_samples: Optional[List[VideoTextDataSample]]):
    """The non-loss modes of a dual encoder: ``'predict'`` puts each
    pair's ``video_embed`` and ``text_embed`` ``(E,)`` on its data sample;
    ``'tensor'`` returns the two ``(B, E)`` embeddings."""
    if mode == 'predict':
        for sample, video, text in zip(data_samples, video_feat, text_feat):
            sample.video_embed = video
            sample.text_embed = text
        return data_samples
    if mode == 'tensor':
        return video_feat, text_feat
    raise ValueError(
        f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
