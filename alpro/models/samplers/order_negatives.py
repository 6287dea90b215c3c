"""Negatives that differ from a matched pair only in the direction of time."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from alpro.registry import MODELS
from ..data_preprocessors.tokenizer import check_when_read

__all__ = ['OrderNegatives']


@MODELS.register_module()
class OrderNegatives(nn.Module):
    """The order-aware objective's negatives: a pair made wrong by time.

    * **reversed clips** (``reverse_clips``): a clip's own frames played
      backwards are one more negative video of its caption, for every
      caption or, with ``words``, for the captions that contain one of them
      (those naming a direction); never for a still image (``is_image``),
      which reversed is itself.
    * **swapped captions** (``swap_words``): a caption with each direction
      word replaced by its opposite (``left`` <-> ``right``) is one more
      negative text of its clip; a caption with none of the words has no
      swapped negative. It is the caption of the reversed clip, so the text
      side learns the same distinction as the video side.

    The model uses each where ``vtc`` / ``vtm`` say: an extra logit of the
    query against its negative in VTC, an extra unmatched pair in VTM.
    Words are token ids, so every word must be one known token of the
    tokenizer (checked when the tokenizer is first used); WordPiece
    continuations follow (``left ##s`` swaps to ``right ##s``).

    Args:
        tokenizer: the model's tokenizer (the data preprocessor's; the model
            passes it).
        reverse_clips: use the reversed clips.
        words: the words that make a caption name a direction (reversed
            clips only for those); ``None``: every caption.
        swap_words: pairs of opposite words (``[('left', 'right'), ...]``);
            ``None``: no swapped captions.
        vtc / vtm: where the negatives are used.
    """

    def __init__(self,
                 tokenizer=None,
                 reverse_clips: bool = True,
                 words: Optional[Sequence[str]] = None,
                 swap_words: Optional[Sequence[Tuple[str, str]]] = None,
                 vtc: bool = True,
                 vtm: bool = True) -> None:
        super().__init__()
        if not reverse_clips and not swap_words:
            raise ValueError('OrderNegatives: neither reverse_clips nor '
                             'swap_words is on')
        if not vtc and not vtm:
            raise ValueError('OrderNegatives: neither vtc nor vtm is on')
        self.reverse_clips = bool(reverse_clips)
        self.swap_captions = bool(swap_words)
        self.vtc, self.vtm = bool(vtc), bool(vtm)
        self.every_caption = words is None
        if (words is not None or swap_words) and tokenizer is None:
            raise ValueError('OrderNegatives: words and swap_words need the '
                             "data preprocessor's tokenizer")
        for pair in swap_words or ():
            if len(pair) != 2:
                raise ValueError('OrderNegatives: swap_words are pairs '
                                 f'of opposite words, got {pair!r}')
        self.words = None if words is None else list(words)
        self.swap_words = [tuple(pair) for pair in swap_words or ()]
        swapped = [word for pair in self.swap_words for word in pair]
        if len(set(swapped)) != len(swapped):
            raise ValueError('OrderNegatives: a word is in two swap_words '
                             f'pairs: {self.swap_words}')
        self.tokenizer = tokenizer
        # token ids, filled in when the tokenizer is read (the first batch:
        # a LazyTokenizer runs the check then, outside any compiled step)
        self.register_buffer(
            'direction_ids',
            torch.zeros(len(self.words or ()), dtype=torch.long),
            persistent=False)
        self.register_buffer(
            'swap_pairs',
            torch.zeros(len(self.swap_words), 2, dtype=torch.long),
            persistent=False)
        self.token_ids_read = False
        if self.words is not None or self.swap_words:
            check_when_read(tokenizer, self._read_token_ids)

    @torch.no_grad()
    def _read_token_ids(self, tokenizer) -> None:
        """Fill ``direction_ids`` ``(W,)`` and ``swap_pairs`` ``(P, 2)``
        with the token ids of the words."""
        if self.words is not None:
            self.direction_ids.copy_(
                torch.tensor(
                    [self._token_id(tokenizer, w) for w in self.words]))
        if self.swap_words:
            self.swap_pairs.copy_(
                torch.tensor([[self._token_id(tokenizer, w) for w in pair]
                              for pair in self.swap_words]))
        self.token_ids_read = True

    def _ensure_token_ids(self) -> None:
        if not self.token_ids_read:
            self.tokenizer.loaded  # reading it runs _read_token_ids

    @staticmethod
    def _token_id(tokenizer, word: str) -> int:
        pieces = tokenizer.tokenize(word)
        if len(pieces) != 1 or pieces[0] == tokenizer.unk_token:
            raise ValueError(
                f'OrderNegatives: {word!r} is {pieces} for the tokenizer; '
                'name words that are one known token')
        return tokenizer.convert_tokens_to_ids(pieces[0])

    def reversed_valid(self,
                       text_ids: Tensor,
                       is_image: Optional[Tensor] = None) -> Tensor:
        """``(B,)`` bool: the reversed clip is a negative of the caption
        ``(B, L)`` (it names a direction, and the sample is a clip)."""
        if self.every_caption:
            valid = torch.ones(
                text_ids.size(0), dtype=torch.bool, device=text_ids.device)
        else:
            self._ensure_token_ids()
            valid = torch.isin(text_ids, self.direction_ids).any(1)
        if is_image is not None:
            valid = valid & ~is_image
        return valid

    def swap(self, text_ids: Tensor) -> Tuple[Tensor, Tensor]:
        """The captions ``(B, L)`` with their direction words swapped, and
        ``(B,)`` bool: the caption had one (its swapped copy differs)."""
        self._ensure_token_ids()
        first, second = self.swap_pairs.unbind(1)  # (P,)
        is_first = text_ids.unsqueeze(-1) == first  # (B, L, P)
        is_second = text_ids.unsqueeze(-1) == second
        swapped = torch.where(
            is_first.any(-1), (is_first * second).sum(-1), text_ids)
        swapped = torch.where(
            is_second.any(-1), (is_second * first).sum(-1), swapped)
        return swapped, (swapped != text_ids).any(1)

    def vtc_logits(
        self,
        sim_v2t: Tensor,
        sim_t2v: Tensor,
        video_feat: Tensor,
        text_feat: Tensor,
        temperature: Tensor,
        reversed_clips: Optional[Tuple[Tensor, Tensor]] = None,
        swapped_captions: Optional[Tuple[Tensor, Tensor]] = None
    ) -> Tuple[Tensor, Tensor]:
        """VTC logits ``(B, K)`` with the negatives as one more column each:
        ``reversed_clips`` (features ``(B, E)``, valid ``(B,)``) one more
        video per text, ``swapped_captions`` one more text per video."""
        if reversed_clips is not None:
            sim_t2v = self.with_negative(sim_t2v, text_feat, *reversed_clips,
                                         temperature)
        if swapped_captions is not None:
            sim_v2t = self.with_negative(sim_v2t, video_feat,
                                         *swapped_captions, temperature)
        return sim_v2t, sim_t2v

    @staticmethod
    def with_negative(sim: Tensor, query: Tensor, negative: Tensor,
                      valid: Tensor, temperature: Tensor) -> Tensor:
        """VTC logits ``(B, K)`` with one more column: each query ``(B, E)``
        against its own negative ``(B, E)`` over ``temperature``, ``-inf``
        where ``valid`` ``(B,)`` is ``False``."""
        logit = (query * negative).sum(-1) / temperature
        logit = logit.to(sim.dtype).masked_fill(~valid, -torch.inf)
        return torch.cat([sim, logit[:, None]], 1)
