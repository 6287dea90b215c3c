"""Video question answering (QA) head."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS

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
