"""Prompting entity modeling (PEM) head."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from alpro.registry import HEADS

__all__ = ['PEMHead']

_ACTIVATIONS = dict(gelu=nn.GELU, relu=nn.ReLU)


@HEADS.register_module()
class PEMHead(BaseModule):
    """Predict the entity distribution of a video region: an MLP.

    ``Linear(D, hidden) -> activation -> Linear(hidden, E)``. The released
    ALPRO uses ``hidden = 2 * D`` (our default) and ReLU; GELU is our
    default, ``activation='relu'`` reproduces the release.

    Args:
        in_dims: D, the width of the pooled region feature.
        num_entities: E, the number of entity prompts.
        hidden_dims: the MLP's hidden width; ``2 * in_dims`` when None.
        activation: ``'gelu'`` or ``'relu'``.
        init_cfg: MMEngine initialisation; BERT's by default (truncated
            normal, std 0.02, zero bias).
    """

    def __init__(
        self,
        in_dims: int,
        num_entities: int,
        hidden_dims: Optional[int] = None,
        activation: str = 'gelu',
        init_cfg: Optional[dict] = dict(
            type='TruncNormal', layer='Linear', std=0.02, bias=0.)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if activation not in _ACTIVATIONS:
            raise ValueError(f'PEMHead: activation must be one of '
                             f'{sorted(_ACTIVATIONS)}, got {activation!r}')
        hidden_dims = 2 * in_dims if hidden_dims is None else hidden_dims
        self.in_dims = in_dims
        self.num_entities = num_entities
        self.mlp = nn.Sequential(
            nn.Linear(in_dims, hidden_dims), _ACTIVATIONS[activation](),
            nn.Linear(hidden_dims, num_entities))

    def forward(self, region_feat: Tensor) -> Tensor:
        """Score the entities of each region.

        Args:
            region_feat: ``(B, D)`` fusion outputs mean-pooled over the
                video tokens of the region.

        Returns:
            ``(B, E)`` entity logits.
        """
        return self.mlp(region_feat)
