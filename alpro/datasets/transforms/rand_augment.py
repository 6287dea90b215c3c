"""RandAugment with the same operations on every frame of a clip."""
import math
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from alpro.registry import TRANSFORMS
from .processing import clip_of, store_clip
from .random_transform import RandomTransform

__all__ = ['TemporalConsistentRandAugment', 'ALPRO_RANDAUG_OPS']

ALPRO_RANDAUG_OPS = ('Identity', 'Contrast', 'Brightness', 'Sharpness',
                     'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate',
                     'HorizontalFlip')


@TRANSFORMS.register_module()
class TemporalConsistentRandAugment(RandomTransform):
    """RandAugment with one set of parameters for all frames of a clip.

    ALPRO's ``TemporalConsistentRandomAugment(N=2, M=5)``: ``num_ops``
    DISTINCT ops are drawn from ``ops`` and each is applied, in the drawn
    order, to the whole ``(T, C, H, W)`` clip at once. With ``level =
    magnitude / max_level``, the arguments are ALPRO's:

    * ``Contrast``, ``Brightness``, ``Sharpness``: enhance factor ``level *
      1.8 + 0.1``. At the default ``magnitude=5`` this is 1.0, i.e. these
      three ops do nothing: faithful to ALPRO, where 4 of the 10 ops
      (``Identity`` included) leave the clip unchanged. The factor is
      shared by all frames; ``Contrast`` blends each frame with its own
      mean grey, as ALPRO's per-frame op does.
    * ``ShearX`` / ``ShearY``: shear factor ``f = level * 0.3`` as ALPRO's
      OpenCV matrix ``[[1, f, 0], [0, 1, 0]]`` (resp. ``[[1, 0, 0], [f, 1,
      0]]``): about the top-left corner, ``(x, y) -> (x + f * y, y)``.
    * ``TranslateX`` / ``TranslateY``: ``level * 10`` pixels; as ALPRO's
      matrix ``[[1, 0, -offset], ...]`` the content moves left (up).
    * ``Rotate``: ``level * 30`` degrees counter-clockwise about the frame
      centre (ALPRO's OpenCV centre ``(W/2, H/2)`` sits half a pixel off
      it; we use the true centre).
    * ``HorizontalFlip``, ``Identity``: no argument.

    The uncovered area of geometric ops is filled with ``fill`` on every
    channel; interpolation is bilinear. ALPRO always uses the positive
    argument (its random negation is commented out); ``random_sign=True``
    negates the argument of shear, translate and rotate ops with
    probability 0.5.

    Adds ``randaug_ops``, the names applied (list of str).

    Args:
        num_ops: N, ops applied per clip (distinct).
        magnitude: M, in ``[0, max_level]``.
        ops: names to choose from; a subset of ``ALPRO_RANDAUG_OPS``.
        fill: value of the pixels uncovered by geometric ops.
        max_level: the magnitude that gives the largest arguments.
        random_sign: negate signed arguments at random (not ALPRO's).
    """

    def __init__(self,
                 num_ops: int = 2,
                 magnitude: int = 5,
                 ops: Sequence[str] = ALPRO_RANDAUG_OPS,
                 fill: int = 128,
                 max_level: int = 10,
                 random_sign: bool = False) -> None:
        if isinstance(ops, str):
            ops = (ops, )
        unknown = [op for op in ops if op not in ALPRO_RANDAUG_OPS]
        if unknown:
            raise ValueError(
                f'TemporalConsistentRandAugment: unknown ops {unknown}; '
                f'valid names are {list(ALPRO_RANDAUG_OPS)}')
        if len(set(ops)) != len(ops):
            raise ValueError(
                f'TemporalConsistentRandAugment: ops repeat a name: {ops}')
        if not 0 <= num_ops <= len(ops):
            raise ValueError(
                f'TemporalConsistentRandAugment: num_ops={num_ops} distinct '
                f'ops cannot be drawn from {len(ops)} ops')
        if max_level <= 0 or not 0 <= magnitude <= max_level:
            raise ValueError(
                'TemporalConsistentRandAugment: need 0 <= magnitude <= '
                f'max_level and max_level > 0, got magnitude={magnitude}, '
                f'max_level={max_level}')
        if not 0 <= fill <= 255:
            raise ValueError('TemporalConsistentRandAugment: fill must be '
                             f'in [0, 255], got {fill}')
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.ops = tuple(ops)
        self.fill = fill
        self.max_level = max_level
        self.random_sign = random_sign

    # -- the arguments, as ALPRO maps a magnitude to them -----------------
    @property
    def _level(self) -> float:
        return self.magnitude / self.max_level

    def enhance_factor(self) -> float:
        """Factor of Contrast, Brightness and Sharpness."""
        return self._level * 1.8 + 0.1

    def shear_factor(self) -> float:
        """Shear factor ``f`` of the matrix (``atan(f)`` in radians)."""
        return self._level * 0.3

    def translate_pixels(self) -> float:
        """Offset of TranslateX / TranslateY, in pixels."""
        return self._level * 10

    def rotate_degrees(self) -> float:
        """Angle of Rotate, counter-clockwise."""
        return self._level * 30

    # -- the ops: (T, C, H, W) uint8 in, same shape out ---------------------
    def _affine(self, imgs: torch.Tensor, translate: Sequence[float],
                shear: Sequence[float]) -> torch.Tensor:
        # torchvision puts pixel (0, 0)'s centre at (0.5, 0.5), OpenCV at
        # (0, 0): this centre makes torchvision's shear equal ALPRO's.
        return F.affine(
            imgs,
            angle=0.0,
            translate=list(translate),
            scale=1.0,
            shear=list(shear),
            interpolation=InterpolationMode.BILINEAR,
            fill=[self.fill] * imgs.shape[1],
            center=[0.5, 0.5])

    def _shear_degrees(self, sign: int) -> float:
        # torchvision's positive shear maps x -> x - tan(s) * y; OpenCV's
        # matrix of ALPRO maps x -> x + f * y.
        return -math.degrees(math.atan(sign * self.shear_factor()))

    # Each op takes the clip and the sign (+1 or -1) of its argument.
    def _identity(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return imgs

    def _contrast(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return F.adjust_contrast(imgs, self.enhance_factor())

    def _brightness(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return F.adjust_brightness(imgs, self.enhance_factor())

    def _sharpness(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return F.adjust_sharpness(imgs, self.enhance_factor())

    def _shear_x(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return self._affine(imgs, (0, 0), (self._shear_degrees(sign), 0.0))

    def _shear_y(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return self._affine(imgs, (0, 0), (0.0, self._shear_degrees(sign)))

    def _translate_x(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        offset = sign * self.translate_pixels()
        return self._affine(imgs, (-offset, 0), (0.0, 0.0))

    def _translate_y(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        offset = sign * self.translate_pixels()
        return self._affine(imgs, (0, -offset), (0.0, 0.0))

    def _rotate(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return F.rotate(
            imgs,
            sign * self.rotate_degrees(),
            interpolation=InterpolationMode.BILINEAR,
            fill=[self.fill] * imgs.shape[1])

    def _horizontal_flip(self, imgs: torch.Tensor, sign: int) -> torch.Tensor:
        return F.horizontal_flip(imgs)

    _METHODS = {
        'Identity': _identity,
        'Contrast': _contrast,
        'Brightness': _brightness,
        'Sharpness': _sharpness,
        'ShearX': _shear_x,
        'ShearY': _shear_y,
        'TranslateX': _translate_x,
        'TranslateY': _translate_y,
        'Rotate': _rotate,
        'HorizontalFlip': _horizontal_flip,
    }

    def apply(self,
              imgs: torch.Tensor,
              names: Sequence[str],
              signs: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Apply the named ops, in order, to a ``(T, C, H, W)`` clip.

        Args:
            imgs: the clip.
            names: op names.
            signs: +1 or -1 per op, the sign of its argument (default: all
                +1, as ALPRO).
        """
        signs = [1] * len(names) if signs is None else signs
        for name, sign in zip(names, signs):
            imgs = self._METHODS[name](self, imgs, int(sign))
        return imgs

    def __call__(self, results: Dict) -> Dict:
        """Augment ``results['imgs']`` ``(T, C, H, W)``; the shape is kept.
        """
        imgs = clip_of(results, 'TemporalConsistentRandAugment')
        rng = self.rng(results)
        chosen = rng.choice(len(self.ops), self.num_ops, replace=False)
        names = [self.ops[i] for i in chosen]
        signs = np.ones(len(names), dtype=np.int64)
        if self.random_sign:
            signs[rng.random(len(names)) < 0.5] = -1
        results['randaug_ops'] = names
        return store_clip(results, self.apply(imgs, names, signs.tolist()))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_ops={self.num_ops}, '
                f'magnitude={self.magnitude}, ops={list(self.ops)}, '
                f'fill={self.fill}, max_level={self.max_level}, '
                f'random_sign={self.random_sign})')
