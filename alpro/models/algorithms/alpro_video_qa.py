"""ALPRO fine-tuned for open-ended video question answering."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from alpro.registry import HEADS, MODELS
from alpro.structures import VideoTextDataSample
from .video_text_encoders import VideoTextEncoders

__all__ = ['AlproVideoQA']


@MODELS.register_module()
class AlproVideoQA(VideoTextEncoders):
    """Video QA (MSRVTT-QA, MSVD-QA) as classification over answers.

    The question and the clip go through the encoders and the fusion layers
    of BERT as in pre-training; a :class:`~alpro.models.heads.QAHead` scores
    the fusion [CLS] against the answers of the training set (ALPRO's
    ``AlproForSequenceClassification``). Questions whose answer is not in
    that vocabulary carry ``answer_label = -1``: they are left out of the
    loss (and count as wrong in :class:`~alpro.evaluation.VideoQAMetric`).

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
        data_preprocessor: ``MODELS`` config (e.g.
            ``VideoTextDataPreprocessor``, the question in ``text``).
        init_cfg: MMEngine's initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 num_answers: int,
                 qa_head: dict = dict(type='QAHead'),
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, text_encoder, data_preprocessor, init_cfg)
        width = self.text_encoder.hidden_size
        self.video_to_text = self.video_to_text_projection()
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
        video_tokens = self.video_to_text(self.backbone(inputs['video']))
        text_mask = inputs['text_mask']
        text_tokens = self.text_encoder.encode_text(inputs['text_ids'],
                                                    text_mask)
        fused = self.text_encoder.fuse(text_tokens, text_mask, video_tokens)
        return fused[:, 0]

    @staticmethod
    def answer_labels(data_samples: List[VideoTextDataSample],
                      device: torch.device) -> torch.Tensor:
        """The ``(B,)`` long ``answer_label`` of the samples, -1 where the
        answer is out of the vocabulary."""
        labels = []
        for sample in data_samples:
            label = sample.get('answer_label')
            if label is None:
                raise KeyError(
                    'AlproVideoQA: a training data sample has no '
                    "'answer_label'; the QA dataset must pack the index of "
                    'its answer in train_ans2label.json (-1 if absent)')
            labels.append(torch.as_tensor(label).reshape(()))
        return torch.stack(labels).to(device, torch.long, non_blocking=True)

    def loss(
            self, inputs: Dict[str, torch.Tensor],
            data_samples: List[VideoTextDataSample]
    ) -> Dict[str, torch.Tensor]:
        """Cross-entropy over the answers and the training accuracy.

        Both are averaged over the labelled samples (``answer_label`` >= 0)
        without a host synchronisation; a batch with none gives 0 loss.

        Returns:
            ``loss_qa`` and ``qa_acc`` (a fraction).
        """
        logits = self.qa_head(self.extract_feat(inputs)).float()
        labels = self.answer_labels(data_samples, logits.device)
        labelled = labels >= 0
        count = labelled.sum().clamp(min=1)
        loss = F.cross_entropy(
            logits, labels, ignore_index=-1, reduction='sum') / count
        correct = (logits.argmax(-1) == labels) & labelled
        return dict(loss_qa=loss, qa_acc=correct.sum() / count)

    def predict(
            self, inputs: Dict[str, torch.Tensor],
            data_samples: List[VideoTextDataSample]
    ) -> List[VideoTextDataSample]:
        """Put ``pred_score`` ``(A,)`` (softmax) and ``pred_label`` (a long
        scalar tensor) on each data sample."""
        logits = self.qa_head(self.extract_feat(inputs)).float()
        scores = logits.softmax(-1)
        labels = scores.argmax(-1)
        for sample, score, label in zip(data_samples, scores, labels):
            sample.pred_score = score
            sample.pred_label = label
        return data_samples

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
