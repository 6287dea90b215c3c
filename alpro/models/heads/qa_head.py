"""Video question answering (QA) head: answer classifier and its loss."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS
from alpro.structures import VideoTextDataSample

__all__ = ['QAHead']


@HEADS.register_module()
class QAHead(BaseModule):
    """Classify the fusion [CLS] over the answer vocabulary.

    ALPRO answers open-ended video questions (MSRVTT-QA, MSVD-QA) by
    classification over the answers of the training set. Its classifier
    (``AlproForSequenceClassification.classifier`` in salesforce/ALPRO) is
    an MLP with a hidden layer twice the fusion width:
    ``Linear(D, 2D) - ReLU - Linear(2D, A)``, without a normalisation layer;
    this head follows it exactly, so that the layer names ``fc1`` / ``fc2``
    are its only difference.

    Questions whose answer is not in the vocabulary carry
    ``answer_label = -1``: :meth:`loss` leaves them out (and
    :class:`~alpro.evaluation.VideoQAMetric` counts them as wrong). A label
    the head has no output for is refused with the sizes to fix
    (:meth:`answer_labels`).

    Args:
        in_dims: D, the width of the fusion encoder.
        num_answers: A, the size of the answer vocabulary.
        hidden_ratio: width of the hidden layer over D (2 in ALPRO).
        init_cfg: MMEngine initialisation; BERT's by default (truncated
            normal, std 0.02, zero bias).
    """

    def __init__(
        self,
        in_dims: int,
        num_answers: int,
        hidden_ratio: int = 2,
        init_cfg: Optional[dict] = dict(
            type='TruncNormal', layer='Linear', std=0.02, bias=0.)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_answers < 1:
            raise ValueError(
                f'QAHead: num_answers must be positive, got {num_answers}; '
                'set it to the size of the training answer vocabulary '
                '(train_ans2label.json)')
        self.in_dims = in_dims
        self.num_answers = num_answers
        hidden = in_dims * hidden_ratio
        self.fc1 = nn.Linear(in_dims, hidden)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, num_answers)

    def forward(self, cls_feat: Tensor) -> Tensor:
        """Score every answer.

        Args:
            cls_feat: ``(B, D)`` the fusion encoder's [CLS] output.

        Returns:
            ``(B, A)`` answer logits.
        """
        return self.fc2(self.act(self.fc1(cls_feat)))

    def answer_labels(self,
                      data_samples: List[VideoTextDataSample],
                      device: torch.device,
                      key: str = 'answer_label') -> Tensor:
        """The ``(B,)`` long ``answer_label`` (or another ``key``, e.g.
        ``opposite_label``) of the samples, -1 where the answer is out of
        the vocabulary.

        This is where the dataset's answer vocabulary meets the head: a
        label the head has no output for (``>= num_answers``) is refused
        here, on the host (the data samples' labels are CPU values), with
        the sizes to fix; on the device it would be a bare index error.

        Raises:
            KeyError: a sample has no ``key``.
            ValueError: a label is ``>= num_answers`` or below -1.
        """
        labels = []
        for sample in data_samples:
            label = sample.get(key)
            if label is None:
                packed_by = ("VideoQADataset(opposite_answers=...) and "
                             "PackVideoTextInputs(data_keys=(..., "
                             "'opposite_label'))" if key == 'opposite_label'
                             else 'the index of its answer in '
                             'train_ans2label.json (-1 if absent)')
                raise KeyError(f'QAHead: a training data sample has no '
                               f'{key!r}; the QA dataset must pack it: '
                               f'{packed_by}')
            labels.append(torch.as_tensor(label).reshape(()))
        labels = torch.stack(labels)
        if labels.device.type == 'cpu':  # a check that costs no device sync
            wrong = labels[(labels >= self.num_answers) | (labels < -1)]
            if wrong.numel():
                raise ValueError(
                    f'QAHead: answer_label {int(wrong[0])} is outside '
                    f'[-1, {self.num_answers}), the QA head\'s answers '
                    f'(num_answers={self.num_answers}): the dataset\'s '
                    'answer vocabulary (train_ans2label.json, its '
                    "metainfo['ans2label']) is larger than the head. Set "
                    'model.num_answers to the size of that vocabulary, '
                    "len(dataset.metainfo['ans2label']).")
        return labels.to(device, torch.long, non_blocking=True)

    def loss(self,
             cls_feat: Tensor,
             data_samples: List[VideoTextDataSample],
             reversed_feat: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Cross-entropy over the answers and the training accuracy.

        Both are averaged over the labelled samples (``answer_label`` >= 0)
        without a host synchronisation; a batch with none gives 0 loss.
        With ``reversed_feat`` (the order-aware objective) the clips played
        backwards are more labelled samples, whose answer is each sample's
        ``opposite_label`` (those with none, -1, left out); ``qa_acc``
        stays that of the clips as they are.

        Args:
            cls_feat: ``(B, D)`` the fusion [CLS] of each (clip, question).
            data_samples: with ``answer_label`` (and ``opposite_label``).
            reversed_feat: ``(B, D)`` that of each (reversed clip,
                question).

        Returns:
            ``loss_qa`` and ``qa_acc`` (a fraction).
        """
        logits = self(cls_feat).float()
        labels = self.answer_labels(data_samples, logits.device)
        labelled = labels >= 0
        correct = (logits.argmax(-1) == labels) & labelled
        qa_acc = correct.sum() / labelled.sum().clamp(min=1)
        if reversed_feat is not None:
            logits = torch.cat([logits, self(reversed_feat).float()])
            labels = torch.cat([
                labels,
                self.answer_labels(data_samples, logits.device,
                                   'opposite_label')
            ])
        count = (labels >= 0).sum().clamp(min=1)
        loss = F.cross_entropy(
            logits, labels, ignore_index=-1, reduction='sum') / count
        return dict(loss_qa=loss, qa_acc=qa_acc)

    def predict(
            self, cls_feat: Tensor, data_samples: List[VideoTextDataSample]
    ) -> List[VideoTextDataSample]:
        """Put ``pred_score`` ``(A,)`` (softmax) and ``pred_label`` (a long
        scalar tensor) on each data sample; where every sample has an
        ``answer_label``, it is checked as in :meth:`loss`."""
        gold = [s.get('answer_label') for s in data_samples]
        if gold and all(g is not None for g in gold):
            self.answer_labels(data_samples, torch.device('cpu'))
        scores = self(cls_feat).float().softmax(-1)
        labels = scores.argmax(-1)
        for sample, score, label in zip(data_samples, scores, labels):
            sample.pred_score = score
            sample.pred_label = label
        return data_samples
