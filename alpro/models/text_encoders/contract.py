"""The text encoder contract: what a ``TEXT_ENCODERS`` component gives the
algorithms, whether alpro ships it or a plugin registers it.

A text encoder is an ``nn.Module`` (best an MMEngine ``BaseModule``) with:

* ``encode_text(text_ids, text_mask) -> (B, L, D)``: ids and padding mask
  ``(B, L)`` (1 for real tokens) to text features, position 0 the [CLS]
  (the contrastive features are its projection);
* ``fuse(text_features, text_mask, video_tokens) -> (B, L + V, D)``: text
  ``(B, L, D)`` and video tokens ``(B, V, D)`` fused into ``[text ;
  video]``, position 0 the fusion [CLS] (VTM and QA read it, MLM the text
  positions, PEM the video positions); a text-only encoder (stage 1)
  raises there;
* ``hidden_size``: int, D;
* ``vocab_size``: int, the number of token ids it embeds (a tokenizer with
  more is refused when a model is built).

For MLM (``AlproPretrainer(tasks=(..., 'mlm'))``) also ``word_embeddings``,
the ``nn.Embedding`` of the ids (the MLM decoder is tied to its weight), and
``layer_norm_eps`` (the MLM head's transform uses the same).

Optional: ``init_weights()`` reads pretrained files (MMEngine's Runner calls
it on every child before training).

The attributes are checked when a model is built
(:func:`check_text_encoder`); the shapes by
``tests/test_registered_components.py``, which runs every registered text
encoder at tiny size.
"""
import numbers
from typing import Sequence

from torch import nn

__all__ = ['TEXT_ENCODER_ATTRIBUTES', 'MLM_ATTRIBUTES', 'check_text_encoder']

#: what every text encoder has, with what each means
TEXT_ENCODER_ATTRIBUTES = dict(
    encode_text='encode_text(text_ids, text_mask) -> (B, L, D)',
    fuse='fuse(text_features, text_mask, video_tokens) -> (B, L + V, D)',
    hidden_size='D, the width of its features (an int)',
    vocab_size='the number of token ids it embeds (an int)')
#: what MLM also needs
MLM_ATTRIBUTES = dict(
    word_embeddings='the nn.Embedding of the token ids (the MLM decoder is '
    'tied to its weight)',
    layer_norm_eps='the epsilon of its LayerNorms (the MLM head uses it)')

_WHERE_DOCUMENTED = ('alpro.models.text_encoders.contract '
                     '(alpro/models/text_encoders/contract.py)')


def check_text_encoder(encoder: nn.Module,
                       where: str,
                       tasks: Sequence[str] = ()) -> None:
    """Refuse a text encoder that lacks what the algorithms read from it.

    Args:
        encoder: the built text encoder.
        where: who builds it, for the message (e.g. ``'AlproPretrainer'``).
        tasks: the model's tasks; ``'mlm'`` also needs
            :data:`MLM_ATTRIBUTES`.

    Raises:
        TypeError: names the encoder's type, every missing or wrong
            attribute and this module.
    """
    name = type(encoder).__name__
    needed = dict(TEXT_ENCODER_ATTRIBUTES)
    if 'mlm' in tasks:
        needed.update(MLM_ATTRIBUTES)
    problems = []
    for attr, meaning in needed.items():
        if not hasattr(encoder, attr):
            problems.append(f'no attribute {attr!r} ({meaning})')
        elif attr in ('hidden_size', 'vocab_size'):
            value = getattr(encoder, attr)
            if not isinstance(value, numbers.Integral) or isinstance(
                    value, bool) or value < 1:
                problems.append(f'{attr}={value!r} is not a positive int')
        elif attr == 'word_embeddings' and not isinstance(
                encoder.word_embeddings, nn.Embedding):
            problems.append('word_embeddings is not an nn.Embedding')
    if not isinstance(encoder, nn.Module):
        problems.insert(0, 'it is not an nn.Module')
    if problems:
        raise TypeError(
            f'{where}: text encoder {name} does not follow the text encoder '
            f'contract: {"; ".join(problems)}. The contract is documented '
            f'in {_WHERE_DOCUMENTED}')
