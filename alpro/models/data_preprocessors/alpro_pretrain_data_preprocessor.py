"""ALPRO's pretraining batch: MLM masking and PEM regions, on the device.

ALPRO builds both in its collator on the host (``PretrainCollator``,
``mask_batch_text_tokens`` and ``random_erase``, one sample at a time);
here they are drawn for the whole batch at once, on the model's device, from
torch's global RNG (which MMEngine seeds), with no host sync.
"""
import functools
import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from alpro.registry import MODELS
from .video_text_data_preprocessor import (CLIP_MEAN, CLIP_STD,
                                           VideoTextDataPreprocessor)

__all__ = ['AlproPretrainDataPreprocessor', 'DEFAULT_PEM']

#: ALPRO's region sampling (``random_erase``): a patch-aligned box of
#: ``area`` of the frame, of height/width ratio in ``aspect``. At 224 px
#: and p = 16 a proposal is valid with probability about 0.133, so a
#: sample falls back with probability about 0.867 ** candidates: 1e-2 at
#: 32 candidates, 1e-4 at 64, 1e-8 at 128 (B x 128 draws cost nothing).
DEFAULT_PEM = dict(
    patch_size=16, area=(0.3, 0.5), aspect=(0.3, 1 / 0.3), candidates=128)

# label of a token MLM does not predict (PyTorch's ``ignore_index``)
IGNORE_INDEX = -100


@functools.lru_cache(maxsize=None)
def fallback_box(height: int, width: int, patch_size: int, area: Tuple[float,
                                                                       float],
                 aspect: Tuple[float, float]) -> Tuple[int, int, int, int]:
    """The deterministic region used when no proposal of a sample is valid.

    The largest patch-aligned box whose area is at most
    ``area[1] * height * width`` and whose ratio ``h / w`` lies in
    ``aspect``, ties broken towards the squarest box and then towards the
    taller one; centred (its top-left corner rounded down to the patch
    grid). If no box meets both bounds (frames of a few patches), one
    patch. Computed on the host from shapes only, once per frame size.

    Args:
        height: H, a multiple of ``patch_size``.
        width: W, a multiple of ``patch_size``.
        patch_size: p.
        area: ``(min, max)`` fractions of the frame.
        aspect: ``(min, max)`` of ``h / w``.

    Returns:
        ``(top, left, h, w)`` in pixels.
    """
    max_area = area[1] * height * width
    best = (patch_size, patch_size)
    best_key = None
    for h in range(patch_size, height + 1, patch_size):
        for w in range(patch_size, width + 1, patch_size):
            if h * w > max_area or not aspect[0] <= h / w <= aspect[1]:
                continue
            key = (h * w, -abs(math.log(h / w)), h)
            if best_key is None or key > best_key:
                best, best_key = (h, w), key
    h, w = best
    top = (height - h) // 2 // patch_size * patch_size
    left = (width - w) // 2 // patch_size * patch_size
    return top, left, h, w


@MODELS.register_module()
class AlproPretrainDataPreprocessor(VideoTextDataPreprocessor):
    """:class:`VideoTextDataPreprocessor` plus ALPRO's pretraining inputs.

    Everything is drawn on the model's device, for the whole batch at once,
    from torch's global RNG; nothing waits for the device. Masks and regions
    are drawn in training and in validation alike (ALPRO reports MLM
    accuracy on masked validation text); the algorithm uses what it needs.

    **MLM** (BERT's scheme, as ALPRO's ``mask_batch_text_tokens``): each
    token that is neither special (``tokenizer.all_special_ids``: [CLS],
    [SEP], [PAD], ...) nor padding (``text_mask`` 0) is chosen with
    probability ``mlm_probability``; a chosen token becomes [MASK] with
    probability 0.8, a random token with 0.1 and stays with 0.1. Random
    tokens are drawn uniformly from the non-special vocabulary (ALPRO draws
    from the whole vocabulary, special tokens included). A caption may get
    no chosen token at all, and a batch of very short captions too: the
    MLM loss must tolerate a batch without labels.

    **PEM regions** (ALPRO's ``random_erase``): per sample, a box of area
    ``s = U(area) * H * W`` and ratio ``r = U(aspect)``, ``w = sqrt(s / r)``,
    ``h = sqrt(s * r)``, top-left corner uniform over the frame, all four
    rounded DOWN to multiples of ``patch_size``; rejected until it lies
    inside the frame. Here ``candidates`` proposals per sample are drawn at
    once and the first valid one is kept, which is ALPRO's distribution
    whenever one is valid; proposals with ``h`` or ``w`` rounded to 0 are
    rejected too (ALPRO would keep an empty box, possible only when a side
    of the frame is under about 3.3 patches). If none of a sample's
    proposals is valid, it gets :func:`fallback_box`, the largest centred
    patch-aligned box within the area and aspect bounds. Proposals are
    valid rarely (about 13% at 224 px, p = 16, the default bounds), so
    ``candidates`` must be large for the fallback to be rare: ``0.867 **
    candidates`` of the samples, 1% at 32, 1e-8 at the default 128.

    What the rounding guarantees (and the tests check): ``h``, ``w``,
    ``top``, ``left`` are multiples of ``p``; ``h, w >= p``; the box lies
    in the frame; ``h * w <= area[1] * H * W``; and, because rounding down
    removes less than ``p``, ``(h + p) * (w + p) > area[0] * H * W``,
    ``(h + p) / w > aspect[0]`` and ``(w + p) / h > 1 / aspect[1]``. The
    area can thus fall below ``area[0]`` (at 224 px and p = 16, down to
    about 0.2 of the frame), as in ALPRO.

    The prompter's input ``pem_crop`` is the clip with everything outside
    the box black. ALPRO blacks out the raw 0-255 pixels in its collator
    and normalises later, so outside the box ``pem_crop`` holds the
    NORMALISED value of a black pixel, ``(0 - mean) / std`` per channel,
    not 0: ``pem_crop == normalise(raw * box_mask)``.

    Output: ``dict(inputs=..., data_samples=...)``, ``inputs`` holding the
    parent's ``video`` ``(B, C, T, H, W)``, ``text_ids`` and ``text_mask``
    ``(B, L)``, and:

    - ``is_image`` ``(B,)`` bool, always: the clip is a still image
      repeated (``'img_path'`` in the sample's metainfo, e.g. CC-3M);
    - with MLM: ``mlm_text_ids`` ``(B, L)`` long, the masked text, and
      ``mlm_labels`` ``(B, L)`` long, the original id where a token is to be
      predicted and -100 elsewhere;
    - with PEM: ``pem_crop`` ``(B, C, T, H, W)`` float, ``pem_region``
      ``(B, N)`` bool, True for the patches inside the box, ``N = (H / p) *
      (W / p)`` in row-major order (the backbone's patch tokens after its
      [CLS]), and ``pem_box`` ``(B, 4)`` long, ``(top, left, h, w)`` in
      pixels (for visualisation).

    Args:
        tokenizer: ``dict(path=FOLDER)`` of a local fast tokenizer.
        mean: per-channel mean, 0-255 scale.
        std: per-channel std, 0-255 scale.
        max_length: longest token sequence, special tokens included.
        padding: ``'max_length'`` or ``'longest'``.
        mlm_probability: the chance that an eligible token is chosen for
            MLM; 0 disables MLM (no ``mlm_*`` keys).
        pem: region sampling, keys as :data:`DEFAULT_PEM` (missing keys
            take its values): ``patch_size`` (p; H and W must be multiples
            of it), ``area`` and ``aspect`` (``(min, max)``), ``candidates``
            (proposals per sample). None disables PEM (no ``pem_*`` keys).
    """

    def __init__(self,
                 tokenizer: dict,
                 mean: Sequence[float] = CLIP_MEAN,
                 std: Sequence[float] = CLIP_STD,
                 max_length: int = 40,
                 padding: str = 'max_length',
                 mlm_probability: float = 0.15,
                 pem: Optional[dict] = DEFAULT_PEM) -> None:
        super().__init__(
            tokenizer=tokenizer,
            mean=mean,
            std=std,
            max_length=max_length,
            padding=padding)
        if not 0 <= mlm_probability <= 1:
            raise ValueError('AlproPretrainDataPreprocessor: mlm_probability '
                             f'must be in [0, 1], got {mlm_probability}')
        self.mlm_probability = float(mlm_probability)
        self.pem = None if pem is None else self._check_pem(pem)

        # from the tokenizer, when it is read (the first batch)
        self.register_buffer('special_ids', None, persistent=False)
        self.register_buffer('ordinary_ids', None, persistent=False)
        self.tokenizer.add_check(self._read_token_ids)

    def _read_token_ids(self, tokenizer) -> None:
        """Keep the special and the ordinary token ids of ``tokenizer`` (on
        the module's device, so that masking stays there); refuse it for
        MLM without a [MASK] token or an ordinary token."""
        special = sorted(set(tokenizer.all_special_ids))
        ordinary = sorted(set(range(len(tokenizer))) - set(special))
        if self.mlm_probability > 0 and (not ordinary
                                         or tokenizer.mask_token_id is None):
            raise ValueError(
                'AlproPretrainDataPreprocessor: MLM needs a tokenizer with a '
                '[MASK] token and at least one non-special token; set '
                'mlm_probability=0 to disable MLM')
        self.special_ids = torch.tensor(
            special, dtype=torch.long, device=self.device)
        self.ordinary_ids = torch.tensor(
            ordinary, dtype=torch.long, device=self.device)

    @property
    def input_keys(self) -> Tuple[str, ...]:
        """The parent's keys, ``is_image``, and those of MLM and PEM where
        they are on (``mlm_probability`` > 0, ``pem`` not None)."""
        keys = super().input_keys + ('is_image', )
        if self.mlm_probability > 0:
            keys += ('mlm_text_ids', 'mlm_labels')
        if self.pem is not None:
            keys += ('pem_crop', 'pem_region', 'pem_box')
        return keys

    @staticmethod
    def _check_pem(pem: dict) -> dict:
        unknown = set(pem) - set(DEFAULT_PEM)
        if unknown:
            raise KeyError(
                f'AlproPretrainDataPreprocessor: unknown pem key(s) '
                f'{sorted(unknown)}; known: {sorted(DEFAULT_PEM)}')
        cfg = {**DEFAULT_PEM, **pem}
        patch_size, candidates = cfg['patch_size'], cfg['candidates']
        area = tuple(float(a) for a in cfg['area'])
        aspect = tuple(float(a) for a in cfg['aspect'])
        if not (isinstance(patch_size, int) and patch_size >= 1
                and isinstance(candidates, int) and candidates >= 1):
            raise ValueError(
                'AlproPretrainDataPreprocessor: pem.patch_size and '
                'pem.candidates must be positive integers, got '
                f'{patch_size} and {candidates}')
        if len(area) != 2 or not 0 < area[0] <= area[1] <= 1:
            raise ValueError('AlproPretrainDataPreprocessor: pem.area must '
                             f'be (min, max) in (0, 1], got {cfg["area"]}')
        if len(aspect) != 2 or not 0 < aspect[0] <= aspect[1]:
            raise ValueError('AlproPretrainDataPreprocessor: pem.aspect must '
                             f'be (min, max) > 0, got {cfg["aspect"]}')
        return dict(
            patch_size=patch_size,
            area=area,
            aspect=aspect,
            candidates=candidates)

    def mask_text(self, text_ids: Tensor,
                  text_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """BERT's MLM masking of a batch, vectorised.

        Args:
            text_ids: ``(B, L)`` long token ids.
            text_mask: ``(B, L)`` 1 for tokens, 0 for padding.

        Returns:
            ``mlm_text_ids`` ``(B, L)``, the ids with chosen tokens replaced
            or kept, and ``mlm_labels`` ``(B, L)``, the original id where
            chosen and -100 elsewhere.
        """
        device = text_ids.device
        mask_token_id = self.tokenizer.mask_token_id  # reads the tokenizer
        eligible = text_mask.bool() & ~torch.isin(text_ids, self.special_ids)
        chosen = eligible & (
            torch.rand(text_ids.shape, device=device) < self.mlm_probability)
        # one draw splits the chosen tokens 80 / 10 / 10
        how = torch.rand(text_ids.shape, device=device)
        to_mask = chosen & (how < 0.8)
        to_random = chosen & (how >= 0.8) & (how < 0.9)
        random_ids = self.ordinary_ids[torch.randint(
            len(self.ordinary_ids), text_ids.shape, device=device)]
        mlm_ids = torch.where(to_mask, mask_token_id, text_ids)
        mlm_ids = torch.where(to_random, random_ids, mlm_ids)
        labels = torch.where(chosen, text_ids, IGNORE_INDEX)
        return mlm_ids, labels

    def propose_boxes(self, batch_size: int, height: int,
                      width: int) -> Tuple[Tensor, Tensor]:
        """Draw ``candidates`` rounded proposals per sample, as ALPRO's
        rejection loop would, and flag the valid ones.

        Args:
            batch_size: B.
            height: H, a multiple of ``pem['patch_size']``.
            width: W, a multiple of ``pem['patch_size']``.

        Returns:
            ``(B, K, 4)`` long ``(top, left, h, w)`` in pixels and ``(B, K)``
            bool, True where the box is non-empty and inside the frame;
            ``K = pem['candidates']``.
        """
        p = self.pem['patch_size']
        (a_min, a_max), (r_min, r_max) = self.pem['area'], self.pem['aspect']
        shape = (batch_size, self.pem['candidates'])
        device = self.device
        s = (torch.rand(shape, device=device) * (a_max - a_min) + a_min) * (
            height * width)
        r = torch.rand(shape, device=device) * (r_max - r_min) + r_min
        # floor(floor(x) / p) == floor(x / p) for an integer p: ALPRO's
        # int() then rounding down to the patch grid, in one step
        w = torch.div(torch.sqrt(s / r), p, rounding_mode='floor').long() * p
        h = torch.div(torch.sqrt(s * r), p, rounding_mode='floor').long() * p
        # uniform over the pixels, rounded down == uniform over the grid
        top = torch.randint(height // p, shape, device=device) * p
        left = torch.randint(width // p, shape, device=device) * p
        valid = ((h >= p) & (w >= p) & (top + h <= height)
                 & (left + w <= width))
        return torch.stack([top, left, h, w], dim=-1), valid

    def select_boxes(self, proposals: Tensor, valid: Tensor, height: int,
                     width: int) -> Tensor:
        """Keep each sample's first valid proposal, else the fallback.

        Args:
            proposals: ``(B, K, 4)`` from :meth:`propose_boxes`.
            valid: ``(B, K)`` bool from :meth:`propose_boxes`.
            height: H.
            width: W.

        Returns:
            ``(B, 4)`` long ``(top, left, h, w)``.
        """
        # argmax returns the first maximum: the first valid proposal
        first = valid.int().argmax(dim=1)[:, None, None].expand(-1, 1, 4)
        boxes = proposals.gather(1, first)[:, 0]
        # filled on the device from Python ints: new_tensor would copy from
        # the host and wait for the GPU at every step
        fallback = torch.stack([
            proposals.new_full((), value)
            for value in fallback_box(height, width, self.pem['patch_size'],
                                      self.pem['area'], self.pem['aspect'])
        ])
        return torch.where(valid.any(dim=1, keepdim=True), boxes, fallback)

    def sample_boxes(self, batch_size: int, height: int, width: int) -> Tensor:
        """Draw one patch-aligned box per sample (see the class docstring).

        Args:
            batch_size: B.
            height: H, a multiple of ``pem['patch_size']``.
            width: W, a multiple of ``pem['patch_size']``.

        Returns:
            ``(B, 4)`` long ``(top, left, h, w)`` in pixels, on the device.
        """
        proposals, valid = self.propose_boxes(batch_size, height, width)
        return self.select_boxes(proposals, valid, height, width)

    def box_masks(self, boxes: Tensor, height: int,
                  width: int) -> Tuple[Tensor, Tensor]:
        """The pixel and patch masks of boxes.

        Args:
            boxes: ``(B, 4)`` long ``(top, left, h, w)``.
            height: H.
            width: W.

        Returns:
            ``(B, H, W)`` bool, True inside the box, and ``(B, N)`` bool,
            True for the patches inside, row-major, ``N = (H / p) * (W /
            p)``.
        """
        p = self.pem['patch_size']
        top, left, h, w = (b[:, None] for b in boxes.unbind(dim=1))
        rows = torch.arange(height, device=boxes.device)
        cols = torch.arange(width, device=boxes.device)
        in_rows = (rows >= top) & (rows < top + h)  # (B, H)
        in_cols = (cols >= left) & (cols < left + w)  # (B, W)
        pixels = in_rows[:, :, None] & in_cols[:, None, :]
        # a patch is inside iff its top-left pixel is: boxes are aligned
        patches = pixels[:, ::p, ::p].flatten(1)
        return pixels, patches

    def forward(self, data: dict, training: bool = False) -> dict:
        out = super().forward(data, training)
        inputs = out['inputs']
        samples: List = out['data_samples']
        video = inputs['video']
        # built on the host, copied without waiting for the stream
        inputs['is_image'] = torch.tensor(
            ['img_path' in s.metainfo for s in samples], dtype=torch.bool).to(
                video.device, non_blocking=True)
        if self.mlm_probability > 0:
            inputs['mlm_text_ids'], inputs['mlm_labels'] = self.mask_text(
                inputs['text_ids'], inputs['text_mask'])
        if self.pem is not None:
            batch_size, _, _, height, width = video.shape
            p = self.pem['patch_size']
            if height % p or width % p:
                raise ValueError(
                    f'AlproPretrainDataPreprocessor: frames of {height}x'
                    f'{width} are not a whole number of pem.patch_size={p} '
                    'patches; resize/crop them to multiples of it')
            boxes = self.sample_boxes(batch_size, height, width)
            pixels, patches = self.box_masks(boxes, height, width)
            # the normalised value of a black pixel, as ALPRO erases raw
            # pixels before normalising
            black = ((0 - self.mean) / self.std).to(video.dtype)
            inputs['pem_crop'] = torch.where(pixels[:, None, None], video,
                                             black)
            inputs['pem_region'] = patches
            inputs['pem_box'] = boxes
        return out
