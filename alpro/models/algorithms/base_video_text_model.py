"""The base of every alpro video-text model: its data preprocessor, video
encoder, text encoder and projections, checked against each other, and the
one interface every algorithm, loop and tool encodes and fuses through."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from alpro.models.backbones.contract import check_video_backbone
from alpro.models.data_preprocessors.tokenizer import check_when_read
from alpro.models.text_encoders.contract import check_text_encoder
from alpro.registry import BACKBONES, MODELS, TEXT_ENCODERS
from alpro.structures import VideoTextDataSample
from alpro.utils.renamed_keys import rename_old_keys

__all__ = ['BaseVideoTextModel', 'check_vocabulary']


def check_vocabulary(tokenizer, text_encoder: nn.Module) -> None:
    """Refuse a tokenizer with more ids than the text encoder embeds, when
    a :class:`~alpro.models.data_preprocessors.LazyTokenizer` is read (at
    once for a tokenizer object; nothing for ``None``)."""
    vocab_size = text_encoder.vocab_size

    def check(loaded) -> None:
        if len(loaded) > vocab_size:
            raise ValueError(
                f'the tokenizer has {len(loaded)} tokens but the text encoder '
                f'embeds only {vocab_size}: raise vocab_size in the text '
                'encoder config or use the tokenizer it was trained with')

    if tokenizer is not None:
        check_when_read(tokenizer, check)


def _rename_old_keys_on_load(state_dict: dict, prefix: str, *args) -> None:
    """Load pre-hook: a checkpoint's keys under their earlier names load
    too (:func:`~alpro.utils.renamed_keys.rename_old_keys`)."""
    rename_old_keys(state_dict, prefix)


class BaseVideoTextModel(BaseModel):
    """Base of the algorithms: the encoders and the interface they share.

    It builds ``data_preprocessor`` (a ``MODELS`` config, built from alpro's
    registry whatever the default scope), ``backbone`` (``BACKBONES``,
    output ``(B, 1 + N, Dv)``, checked against the video backbone contract
    of :mod:`alpro.models.backbones.contract`) and ``text_encoder``
    (``TEXT_ENCODERS``, width D; the tokenizer checked against its
    vocabulary), then the projections a subclass asks for:

    * ``video_to_text`` (``fusion=True``): video tokens to the text width
      D for the fusion layers, identity when ``Dv == D``, else a linear
      layer;
    * ``vision_proj`` and ``text_proj`` (``embed_dim=E``): the [CLS] of
      each encoder to a shared contrastive space of width E.

    The interface (all shapes batch-first):

    * :meth:`encode_video` ``(B, C, T, H, W)`` -> ``tokens, embed``;
    * :meth:`encode_text` ``(B, L)`` ids and mask -> ``tokens, embed``;
    * :meth:`fuse` video tokens, text tokens and mask -> ``(B, L + 1 + N,
      D)``;
    * :meth:`embedding_outputs`: the ``'predict'`` / ``'tensor'`` outputs
      of a dual encoder (the two embeddings).

    A model without projections (``embed_dim=None``, e.g. video QA) has no
    contrastive space: its ``embed`` is ``None``. A model without fusion
    (``fusion=False``, the stage-1 prompter) has no ``video_to_text``: its
    video tokens stay at the backbone's width Dv and :meth:`fuse` is not
    available.

    Args:
        backbone: a ``BACKBONES`` config.
        text_encoder: a ``TEXT_ENCODERS`` config.
        data_preprocessor: a ``MODELS`` config or module.
        init_cfg: MMEngine's initialisation config.
        embed_dim: E, the width of the contrastive space; ``None``: no
            projections.
        fusion: build ``video_to_text`` (the model fuses video and text).
        test_clips: K clips per video at evaluation (multi-clip test-time
            averaging): the clip's frames are K consecutive groups of T
            (``SampleFrames(num_clips=K)``) whose backbone tokens are
            averaged (:meth:`backbone_tokens`). Training always sees one.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None,
                 *,
                 embed_dim: Optional[int] = None,
                 fusion: bool = True,
                 test_clips: int = 1) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if test_clips < 1:
            raise ValueError(f'test_clips must be >= 1, got {test_clips}')
        self.test_clips = test_clips
        self.backbone = BACKBONES.build(backbone)
        check_video_backbone(self.backbone, where=type(self).__name__)
        self.text_encoder = TEXT_ENCODERS.build(text_encoder)
        check_text_encoder(self.text_encoder, where=type(self).__name__)
        check_vocabulary(
            getattr(self.data_preprocessor, 'tokenizer', None),
            self.text_encoder)
        video_width = self.backbone.embed_dims
        width = self.text_encoder.hidden_size
        self.video_to_text = None
        if fusion:
            self.video_to_text = nn.Identity(
            ) if video_width == width else nn.Linear(video_width, width)
        self.vision_proj = self.text_proj = None
        if embed_dim is not None:
            self.vision_proj = nn.Linear(video_width, embed_dim)
            self.text_proj = nn.Linear(width, embed_dim)
        self._register_load_state_dict_pre_hook(_rename_old_keys_on_load)

    # -- the interface ------------------------------------------------------
    def backbone_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """The backbone's tokens ``(B, 1 + N, Dv)`` of ``(B, C, T, H, W)``
        clips; at evaluation with ``test_clips=K`` the ``T = K * T'``
        frames of each video are K clips, encoded as a batch of ``B * K``
        and their tokens averaged."""
        clips = 1 if self.training else self.test_clips
        if clips == 1:
            return self.backbone(video)
        batch, channels, frames, height, width = video.shape
        if frames % clips:
            raise ValueError(
                f'test_clips={clips} does not divide the {frames} frames of '
                'a video; sample them with SampleFrames(num_clips=...)')
        video = video.view(batch, channels, clips, frames // clips, height,
                           width).transpose(1, 2)
        tokens = self.backbone(video.flatten(0, 1))
        return tokens.view(batch, clips, *tokens.shape[1:]).mean(1)

    def encode_video(
            self, video: torch.Tensor
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Encode clips.

        Args:
            video: ``(B, C, T, H, W)``.

        Returns:
            ``tokens`` ``(B, 1 + N, D)``, the video tokens at the text width
            (at the backbone's width Dv in a model without fusion), and
            ``embed`` ``(B, E)``, the normalised contrastive embedding of
            the [CLS] token (``None`` without projections).
        """
        raw = self.backbone_tokens(video)
        embed = None
        if self.vision_proj is not None:
            embed = F.normalize(self.vision_proj(raw[:, 0]), dim=-1)
        tokens = raw if self.video_to_text is None else self.video_to_text(raw)
        return tokens, embed

    def encode_text(
        self, text_ids: torch.Tensor, text_mask: torch.Tensor
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Encode texts with the text layers.

        Args:
            text_ids: ``(B, L)`` long token ids.
            text_mask: ``(B, L)`` 1 for real tokens, 0 for padding.

        Returns:
            ``tokens`` ``(B, L, D)`` (position 0 the [CLS]) and ``embed``
            ``(B, E)``, the normalised contrastive embedding
            (:meth:`project_text`; ``None`` without projections).
        """
        tokens = self.text_encoder.encode_text(text_ids, text_mask)
        return tokens, self.project_text(tokens)

    def project_text(self,
                     text_tokens: torch.Tensor) -> Optional[torch.Tensor]:
        """The second half of :meth:`encode_text`: text tokens ``(B, L, D)``
        -> the normalised contrastive embedding ``(B, E)`` of their [CLS]
        (``None`` without projections). For a caller that ran the text
        layers once over several batches of captions."""
        if self.text_proj is None:
            return None
        return F.normalize(self.text_proj(text_tokens[:, 0]), dim=-1)

    def fuse(self, video_tokens: torch.Tensor, text_tokens: torch.Tensor,
             text_mask: torch.Tensor) -> torch.Tensor:
        """Fuse each text with its video in the fusion layers.

        Args:
            video_tokens: ``(B, 1 + N, D)`` from :meth:`encode_video`.
            text_tokens: ``(B, L, D)`` from :meth:`encode_text`.
            text_mask: ``(B, L)``.

        Returns:
            ``(B, L + 1 + N, D)``: ``[text ; video]``, ``[:, 0]`` the fusion
            [CLS], ``[:, L:]`` the video positions.
        """
        return self.text_encoder.fuse(text_tokens, text_mask, video_tokens)

    def embedding_outputs(
        self, mode: str, inputs: dict,
        data_samples: Optional[List[VideoTextDataSample]]
    ) -> Union[List[VideoTextDataSample], Tuple[torch.Tensor, torch.Tensor]]:
        """The non-loss modes of a dual encoder.

        Args:
            mode: ``'predict'`` puts each pair's ``video_embed`` and
                ``text_embed`` ``(E,)`` on its data sample; ``'tensor'``
                returns the two ``(B, E)`` embeddings.
            inputs: ``video`` ``(B, C, T, H, W)``, ``text_ids`` and
                ``text_mask`` ``(B, L)``.
            data_samples: one per pair (``'predict'``).
        """
        if mode not in ('predict', 'tensor'):
            raise ValueError(
                f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
        _, video_embed = self.encode_video(inputs['video'])
        _, text_embed = self.encode_text(inputs['text_ids'],
                                         inputs['text_mask'])
        if mode == 'tensor':
            return video_embed, text_embed
        for sample, video, text in zip(data_samples, video_embed, text_embed):
            sample.video_embed = video
            sample.text_embed = text
        return data_samples

    def build_order_negatives(
        self, cfg: Optional[dict], tasks: Sequence[str] = ('vtc', 'vtm')
    ) -> Optional[nn.Module]:
        """The order-aware objective's negatives
        (:class:`~alpro.models.samplers.OrderNegatives` unless ``cfg`` names
        another ``type``), given the data preprocessor's tokenizer;
        ``None`` when ``cfg`` is ``None``. Refused when none of the places
        it is used (``vtc`` / ``vtm``) is among ``tasks``."""
        if cfg is None:
            return None
        negatives = MODELS.build(
            dict(
                dict(type='OrderNegatives'),
                **cfg,
                tokenizer=getattr(self.data_preprocessor, 'tokenizer', None)))
        if not (negatives.vtc and 'vtc' in tasks) and not (negatives.vtm
                                                           and 'vtm' in tasks):
            raise ValueError('order_negatives: neither vtc nor vtm is on')
        return negatives
