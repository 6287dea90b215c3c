"""ALPRO fine-tuned for open-ended video question answering."""
from typing import Dict, List, Optional, Union

import torch
from torch import nn

from alpro.registry import HEADS, MODELS
from alpro.structures import VideoTextDataSample
from .base_video_text_model import BaseVideoTextModel

__all__ = ['AlproVideoQA']


@MODELS.register_module()
class AlproVideoQA(BaseVideoTextModel):
    """Video QA (MSRVTT-QA, MSVD-QA) as classification over answers.

    The question and the clip go through the encoders and the fusion layers
    of BERT as in pre-training; a :class:`~alpro.models.heads.QAHead` scores
    the fusion [CLS] against the answers of the training set (ALPRO's
    ``AlproForSequenceClassification``), which owns the loss (questions
    whose answer is not in that vocabulary left out) and the predictions.

    It has no contrastive space (no ``vision_proj`` / ``text_proj``): the
    ``embed`` of :meth:`encode_video` and :meth:`encode_text` is ``None``.
    With ``test_clips=K`` the clips' tokens are averaged at evaluation, as
    in retrieval.

    Order-aware objective (``reversed_clips=True``, off by default; ALPRO
    has none): each training clip also goes through the model played
    backwards, with the same question and the answer time reversal gives
    it (the sample's ``opposite_label``: "right" for "left", from
    ``VideoQADataset(opposite_answers=...)``); questions whose answer has
    no opposite add nothing. The same question then has two answers that
    only the order of the frames tells apart, so the model cannot answer
    "where" from the question alone.

    The encoders have the names that
    :class:`~alpro.models.algorithms.AlproPretrainer` gives them
    (``backbone``, ``text_encoder``, ``video_to_text``), so a stage-2
    checkpoint initialises them by name through MMEngine's ``load_from`` or
    ``init_cfg=dict(type='Pretrained', checkpoint=...)``; its pre-training
    heads are ignored and the QA head starts fresh.

    Args:
        backbone: ``BACKBONES`` config, output ``(B, 1 + N, Dv)``.
        text_encoder: ``TEXT_ENCODERS`` config with fusion layers.
        num_answers: A, the size of the answer vocabulary.
        qa_head: ``HEADS`` config; ``in_dims`` and ``num_answers`` are
            filled in.
        reversed_clips: train on the clips played backwards too, with
            their ``opposite_label``.
        test_clips: clips averaged per video at evaluation
            (:meth:`~BaseVideoTextModel.backbone_tokens`).
        data_preprocessor: ``MODELS`` config (e.g.
            ``VideoTextDataPreprocessor``, the question in ``text``).
        init_cfg: MMEngine's initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 num_answers: int,
                 qa_head: dict = dict(type='QAHead'),
                 reversed_clips: bool = False,
                 test_clips: int = 1,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone,
            text_encoder,
            data_preprocessor,
            init_cfg,
            test_clips=test_clips)
        width = self.text_encoder.hidden_size
        self.num_answers = num_answers
        self.reversed_clips = reversed_clips
        self.qa_head = HEADS.build(
            dict(qa_head, in_dims=width, num_answers=num_answers))

    def extract_feat(self,
                     inputs: Dict[str, torch.Tensor],
                     with_reversed: bool = False) -> torch.Tensor:
        """The fusion [CLS] of each (clip, question) pair.

        Args:
            inputs: ``video`` ``(B, C, T, H, W)``, ``text_ids`` and
                ``text_mask`` ``(B, L)``.
            with_reversed: also each (clip played backwards, question), in
                the same batch through the encoders.

        Returns:
            ``(B, D)`` the fusion encoder's [CLS] output; with
            ``with_reversed`` ``(2B, D)``, the reversed clips' second.
        """
        video = inputs['video']
        copies = 1
        if with_reversed:
            video, copies = torch.cat([video, video.flip(2)]), 2
        video_tokens, _ = self.encode_video(video)
        text_mask = inputs['text_mask']
        text_tokens, _ = self.encode_text(inputs['text_ids'], text_mask)
        return self.fuse(video_tokens, text_tokens.repeat(copies, 1, 1),
                         text_mask.repeat(copies, 1))[:, 0]

    def loss(
            self, inputs: Dict[str, torch.Tensor],
            data_samples: List[VideoTextDataSample]
    ) -> Dict[str, torch.Tensor]:
        """``loss_qa`` and ``qa_acc`` of the head (:meth:`QAHead.loss`),
        with the reversed clips when ``reversed_clips`` is on."""
        if not self.reversed_clips:
            return self.qa_head.loss(self.extract_feat(inputs), data_samples)
        forward, backward = self.extract_feat(inputs, True).chunk(2)
        return self.qa_head.loss(forward, data_samples, backward)

    def predict(
            self, inputs: Dict[str, torch.Tensor],
            data_samples: List[VideoTextDataSample]
    ) -> List[VideoTextDataSample]:
        """The data samples with ``pred_score`` ``(A,)`` and ``pred_label``
        (:meth:`QAHead.predict`)."""
        return self.qa_head.predict(self.extract_feat(inputs), data_samples)

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[VideoTextDataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'``: :meth:`loss`; ``'predict'``: :meth:`predict`;
        ``'tensor'``: the ``(B, A)`` answer logits."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.qa_head(self.extract_feat(inputs))
        raise ValueError(
            f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
