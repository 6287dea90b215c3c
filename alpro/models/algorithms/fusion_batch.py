"""Pairs for the fusion layers, queued by name and fused in one pass."""
from typing import Callable, Dict, Tuple

import torch
from torch import Tensor

__all__ = ['FusionBatch']


class FusionBatch:
    """Collect named groups of (text, mask, video) pairs, fuse them all in
    ONE pass, and hand each group's outputs back by its name.

    One pass over every pair the tasks fuse is the same arithmetic as one
    pass per task, with a fraction of the kernel launches.

    Example::

        batch = FusionBatch()
        batch.add('positives', text_tokens, text_mask, video_tokens)
        batch.add('masked', mlm_tokens, text_mask, video_tokens)
        fused = batch.fuse(model.fuse)  # {'positives': (B, ...), ...}
    """

    def __init__(self) -> None:
        self.groups: Dict[str, Tuple[Tensor, Tensor, Tensor]] = {}

    def add(self, name: str, text_tokens: Tensor, text_mask: Tensor,
            video_tokens: Tensor) -> None:
        """Queue a group of P pairs: ``text_tokens`` ``(P, L, D)``,
        ``text_mask`` ``(P, L)``, ``video_tokens`` ``(P, 1 + N, D)``."""
        if name in self.groups:
            raise KeyError(f'FusionBatch: a group {name!r} is queued already')
        self.groups[name] = (text_tokens, text_mask, video_tokens)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def fuse(
            self, fuse: Callable[[Tensor, Tensor, Tensor],
                                 Tensor]) -> Dict[str, Tensor]:
        """Run ``fuse(video_tokens, text_tokens, text_mask)`` once on every
        queued pair (in the order queued) and split its output by group.

        Returns:
            name -> ``(P, L + 1 + N, D)`` fusion outputs of that group.
        """
        texts, masks, videos = zip(*self.groups.values())
        fused = fuse(torch.cat(videos), torch.cat(texts), torch.cat(masks))
        return dict(
            zip(self.groups, fused.split([text.size(0) for text in texts])))
