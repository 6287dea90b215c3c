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
        self.qa_head = HEADS.build(
            dict(qa_head, in_dims=width, num_answers=num_answers))

    def extract_feat(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The fusion [CLS] of each (clip, question) pair.

        Args:
            inputs: ``video`` ``(B, C, T, H, W)``, ``text_ids`` and
                ``text_mask`` ``(B, L)``.

        Returns:
            ``(B, D)`` the fusion encoder's [CLS] output.
        """
        video_tokens, _ = self.encode_video(inputs['video'])
        text_mask = inputs['text_mask']
        text_tokens, _ = self.encode_text(inputs['text_ids'], text_mask)
        return self.fuse(video_tokens, text_tokens, text_mask)[:, 0]

    def loss(
            self, inputs: Dict[str, torch.Tensor],
            data_samples: List[VideoTextDataSample]
    ) -> Dict[str, torch.Tensor]:
        """``loss_qa`` and ``qa_acc`` of the head (:meth:`QAHead.loss`)."""
        return self.qa_head.loss(self.extract_feat(inputs), data_samples)

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
