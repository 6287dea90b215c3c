"""ALPRO fine-tuned for open-ended video question answering."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
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
    ``AlproForSequenceClassification``). Questions whose answer is not in
    that vocabulary carry ``answer_label = -1``: they are left out of the
    loss (and count as wrong in :class:`~alpro.evaluation.VideoQAMetric`).

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

    def answer_labels(self, data_samples: List[VideoTextDataSample],
                      device: torch.device) -> torch.Tensor:
        """The ``(B,)`` long ``answer_label`` of the samples, -1 where the
        answer is out of the vocabulary.

        This is where the dataset's answer vocabulary meets the head: a
        label the head has no output for (``>= num_answers``) is refused
        here, on the host (the data samples' labels are CPU values), with
        the sizes to fix; on the device it would be a bare index error.

        Raises:
            KeyError: a sample has no ``answer_label``.
            ValueError: a label is ``>= num_answers`` or below -1.
        """
        labels = []
        for sample in data_samples:
            label = sample.get('answer_label')
            if label is None:
                raise KeyError(
                    'AlproVideoQA: a training data sample has no '
                    "'answer_label'; the QA dataset must pack the index of "
                    'its answer in train_ans2label.json (-1 if absent)')
            labels.append(torch.as_tensor(label).reshape(()))
        labels = torch.stack(labels)
        if labels.device.type == 'cpu':  # a check that costs no device sync
            self.check_labels(labels)
        return labels.to(device, torch.long, non_blocking=True)

    def check_labels(self, labels: torch.Tensor) -> None:
        """Refuse answer labels outside ``[-1, num_answers)``.

        Args:
            labels: ``(B,)`` CPU tensor of ``answer_label``.
        """
        wrong = labels[(labels >= self.num_answers) | (labels < -1)]
        if wrong.numel():
            raise ValueError(
                f'AlproVideoQA: answer_label {int(wrong[0])} is outside '
                f'[-1, {self.num_answers}), the QA head\'s answers '
                f'(num_answers={self.num_answers}): the dataset\'s answer '
                'vocabulary '
                "(train_ans2label.json, its metainfo['ans2label']) is larger "
                'than the head. Set model.num_answers to the size of that '
                "vocabulary, len(dataset.metainfo['ans2label']).")

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
        gold = [s.get('answer_label') for s in data_samples]
        if gold and all(g is not None for g in gold):
            # the same vocabulary check as in training, where labels exist
            self.answer_labels(data_samples, torch.device('cpu'))
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
