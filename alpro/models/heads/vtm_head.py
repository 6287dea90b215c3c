"""Video-text matching (VTM) head."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS

__all__ = ['VTMHead']


@HEADS.register_module()
class VTMHead(BaseModule):
    """Classify a fused pair as matched or not, from the fusion [CLS].

    ALPRO's VTM head: one linear layer. Class 1 is "matched" by the
    algorithms' convention (ALPRO's ``itm_labels``).

    Args:
        in_dims: D, the width of the fusion encoder.
        num_classes: 2 (unmatched, matched).
        init_cfg: MMEngine initialisation; BERT's by default (truncated
            normal, std 0.02, zero bias).
    """

    def __init__(
        self,
        in_dims: int,
        num_classes: int = 2,
        init_cfg: Optional[dict] = dict(
            type='TruncNormal', layer='Linear', std=0.02, bias=0.)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_dims = in_dims
        self.num_classes = num_classes
        self.fc = nn.Linear(in_dims, num_classes)

    def forward(self, cls_feat: Tensor) -> Tensor:
        """Score pairs.

        Args:
            cls_feat: ``(B, D)`` the fusion encoder's [CLS] output.

        Returns:
            ``(B, num_classes)`` logits.
        """
        return self.fc(cls_feat)
