"""The video backbone contract: what a ``BACKBONES`` component gives the
algorithms, whether alpro ships it or a plugin registers it.

A video backbone is an ``nn.Module`` (best an MMEngine ``BaseModule``).

Input: ``video`` ``(B, C, T, H, W)`` float, already normalised by the data
preprocessor; ``H`` and ``W`` multiples of ``patch_size``.

Output: tokens ``(B, 1 + N [+ M], D)``:

* token 0 is the clip's [CLS] (the contrastive features are its
  projection);
* then the ``N = (H / p) * (W / p)`` patch tokens, row-major over the
  patch grid, one per patch position, pooled over time. PEM pools the
  fusion outputs of a region's patches by this layout, and the data
  preprocessor cuts the regions on a grid of ``pem.patch_size`` pixels,
  which must equal the backbone's ``patch_size``;
* optionally, more tokens after those (e.g. ``TimeSformer(frame_tokens=
  True)``: each time step's patch tokens), which only the fusion layers
  read: the contrastive features read token 0, PEM tokens 1 to N.

Attributes (checked by :func:`check_video_backbone` when a model is built):

* ``embed_dims``: int, D, the width of the output tokens (the algorithms
  size their projections by it);
* ``patch_size``: int, p, the side in pixels of a square patch;
* ``num_frames``: int, the clip length T the backbone is built for (its
  time embedding's; other T may work too).

Optional methods, used when present:

* ``init_weights()``: read pretrained files here, not in ``__init__``
  (MMEngine's Runner calls it on every child before training);
* ``no_weight_decay() -> set`` of parameter names never weight-decayed
  (:class:`~alpro.engine.optimizers.DecayGroupsOptimWrapperConstructor`);
* ``set_grad_checkpointing(enable=True)``;
* ``fit_embeddings(state_dict, prefix)``: resample a checkpoint's
  embeddings to this model's sizes, in place
  (``tools/model_converters/alpro_official_to_alpro.py``).

Only the attributes are checked at build time; the shapes are checked by
the tests (``tests/test_models/test_backbones/test_registered_backbones.py``
runs every registered backbone at tiny size).
"""
import numbers
from typing import Dict

from torch import nn

__all__ = ['VIDEO_BACKBONE_ATTRIBUTES', 'check_video_backbone']

#: The attributes every video backbone has, with what each one means.
VIDEO_BACKBONE_ATTRIBUTES: Dict[str, str] = dict(
    embed_dims='D, the width of the output tokens (B, 1 + N, D)',
    patch_size='p, the side in pixels of a square patch; N = (H / p) * '
    '(W / p) patch tokens',
    num_frames='T, the clip length it is built for')

_WHERE_DOCUMENTED = ('alpro.models.backbones.contract '
                     '(alpro/models/backbones/contract.py)')


def check_video_backbone(backbone: nn.Module, where: str) -> None:
    """Refuse a backbone that lacks what the algorithms read from it.

    Args:
        backbone: the built backbone.
        where: who builds it, for the message (e.g. ``'AlproPretrainer'``).

    Raises:
        TypeError: ``backbone`` is not an ``nn.Module``, or an attribute of
            :data:`VIDEO_BACKBONE_ATTRIBUTES` is missing or not a positive
            int; the message names the backbone's type, every offending
            attribute and this module.
    """
    name = type(backbone).__name__
    if not isinstance(backbone, nn.Module):
        raise TypeError(
            f'{where}: the backbone must be an nn.Module, got {name}; the '
            f'video backbone contract is documented in {_WHERE_DOCUMENTED}')
    problems = []
    for attr, meaning in VIDEO_BACKBONE_ATTRIBUTES.items():
        if not hasattr(backbone, attr):
            problems.append(f'no attribute {attr!r} ({meaning})')
            continue
        value = getattr(backbone, attr)
        positive_int = isinstance(value, numbers.Integral) and not \
            isinstance(value, bool) and value >= 1
        if not positive_int:
            problems.append(f'{attr}={value!r} is not a positive int '
                            f'({meaning})')
    if problems:
        raise TypeError(
            f'{where}: backbone {name} does not follow the video backbone '
            f'contract: {"; ".join(problems)}. Set them in '
            f'{name}.__init__; the contract is documented in '
            f'{_WHERE_DOCUMENTED}')
