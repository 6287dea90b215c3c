"""What the two retrieval inferencers share: the model check and the text
and video encoders' batched calls."""
from typing import List, Sequence, Tuple

import torch
from torch import nn

from .video_loader import autocast, load_videos

__all__ = ['check_retrieval_model', 'encode_texts', 'encode_videos']

METHODS = ('encode_video', 'encode_text', 'rank')


def check_retrieval_model(model: nn.Module) -> None:
    """Refuse a model that cannot rank texts against videos."""
    missing = [m for m in METHODS if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(
            f'{type(model).__name__} cannot retrieve: it has no '
            f'{", ".join(missing)}; use a retrieval model (AlproRetrieval, '
            'e.g. configs/demo/finetune_msrvtt_ret.py)')


@torch.no_grad()
def encode_texts(model: nn.Module,
                 texts: Sequence[str],
                 amp: bool = False,
                 batch_size: int = 256) -> Tuple[torch.Tensor, ...]:
    """Tokenise with the data preprocessor and encode with
    ``model.encode_text``.

    Returns:
        ``tokens`` ``(N, L, D)``, ``mask`` ``(N, L)`` and ``embed``
        ``(N, E)`` float32, normalised.
    """
    tokens, masks, embeds = [], [], []
    for start in range(0, len(texts), batch_size):
        encoded = model.data_preprocessor.tokenize(
            list(texts[start:start + batch_size]))
        with autocast(model, amp):
            token, embed = model.encode_text(encoded['text_ids'],
                                             encoded['text_mask'])
        tokens.append(token)
        masks.append(encoded['text_mask'])
        embeds.append(embed.float())
    return torch.cat(tokens), torch.cat(masks), torch.cat(embeds)


@torch.no_grad()
def encode_videos(
    model: nn.Module,
    paths: Sequence[str],
    amp: bool = False,
    **loader_args
) -> Tuple[List[int], torch.Tensor, torch.Tensor, List[tuple], List[tuple]]:
    """Decode (:func:`~alpro.apis.video_loader.load_videos`) and encode
    videos with ``model.encode_video``.

    Returns:
        ``indices`` of the usable paths, their ``tokens`` ``(N, 1 + P, D)``
        and ``embed`` ``(N, E)`` float32, their ``clips``
        ``[(start_s, end_s)]``, and ``skipped`` ``[(path, reason)]``.
    """
    indices, tokens, embeds, clips, skipped = [], [], [], [], []
    for batch in load_videos(model, paths, **loader_args):
        skipped += batch.skipped
        if not batch.samples:
            continue
        with autocast(model, amp):
            token, embed = model.encode_video(batch.inputs['video'])
        indices += batch.indices
        clips += batch.clips
        tokens.append(token)
        embeds.append(embed.float())
    if not tokens:
        return [], None, None, [], skipped
    return indices, torch.cat(tokens), torch.cat(embeds), clips, skipped
