"""ALPRO stage 1: the prompter, a video-text dual encoder trained with VTC."""
from typing import Dict, List, Optional, Tuple, Union

import torch

from alpro.registry import HEADS, MODELS
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

    Its :meth:`encode_video` / :meth:`encode_text` embeddings (the
    interface of :class:`BaseVideoTextModel`) are what the
    :class:`~alpro.models.prompters.EntityPrompter` scores with.

    Args:
        backbone: a ``BACKBONES`` config (output ``(B, 1 + N, Dv)``).
        text_encoder: a ``TEXT_ENCODERS`` config; the prompter fuses
            nothing (its video tokens stay at the backbone's width), so
            ``text_only=True`` saves the fusion layers.
        vtc_head: a ``HEADS`` config (:class:`~alpro.models.heads.VTCHead`).
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
                 vtc_head: dict = dict(type='VTCHead'),
                 embed_dim: int = 256,
                 order_negatives: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # no fusion layers: the video tokens stay at the backbone's width
        encoders = (backbone, text_encoder, data_preprocessor, init_cfg)
        super().__init__(*encoders, embed_dim=embed_dim, fusion=False)
        self.vtc_head = HEADS.build(vtc_head)
        self.order_negatives = self.build_order_negatives(
            order_negatives, tasks=('vtc', ))

    def loss(self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``dict(loss_vtc, temperature)`` of a batch of pairs."""
        _, video_feat = self.encode_video(inputs['video'])
        text_ids, text_mask = inputs['text_ids'], inputs['text_mask']
        _, text_feat = self.encode_text(text_ids, text_mask)
        out = dict(temperature=self.vtc_head.temp.detach())
        order = self.order_negatives
        if order is None:
            out.update(
                self.vtc_head.loss(*self.vtc_head(video_feat, text_feat)))
            return out
        reversed_clips = swapped_captions = None
        if order.reverse_clips:
            reversed_clips = (self.encode_video(inputs['video'].flip(2))[1],
                              order.reversed_valid(text_ids,
                                                   inputs.get('is_image')))
        if order.swap_captions:
            swapped_ids, swapped_valid = order.swap(text_ids)
            swapped_captions = (self.encode_text(swapped_ids,
                                                 text_mask)[1], swapped_valid)
        sim_v2t, sim_t2v = order.vtc_logits(
            *self.vtc_head(video_feat, text_feat),
            video_feat,
            text_feat,
            self.vtc_head.clamped_temperature(),
            reversed_clips=reversed_clips,
            swapped_captions=swapped_captions)
        out.update(self.vtc_head.loss(sim_v2t, sim_t2v))
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
        return self.embedding_outputs(mode, inputs, data_samples)
