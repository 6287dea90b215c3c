"""Processing transforms on a whole clip at once.

Every transform reads and replaces ``results['imgs']``, a uint8 RGB tensor
of shape ``(T, C, H, W)``, with one ``torchvision.transforms.v2.functional``
call for all frames. The parameters of an op are drawn once per clip, so
every frame gets the same crop, flip or augmentation: the clip stays
temporally consistent. ``results['img_shape']`` follows the new ``(H, W)``.
Random transforms draw from the sample's own generator
(:class:`~alpro.datasets.transforms.RandomTransform`), so that the draws of a
sample depend on ``(seed, epoch, rank, sample index)`` only.
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from alpro.registry import TRANSFORMS
from .random_transform import RandomTransform, global_generator

__all__ = ['Resize', 'RandomCrop', 'CenterCrop', 'RandomResizedCrop', 'Flip']

_INTERPOLATIONS = {
    'nearest': InterpolationMode.NEAREST,
    'bilinear': InterpolationMode.BILINEAR,
    'bicubic': InterpolationMode.BICUBIC,
}


def _interpolation(name: str, owner: str) -> InterpolationMode:
    if name not in _INTERPOLATIONS:
        raise ValueError(f'{owner}: unknown interpolation {name!r}; choose '
                         f'one of {tuple(_INTERPOLATIONS)}')
    return _INTERPOLATIONS[name]


def _pair(size: Union[int, Sequence[int]], owner: str) -> Tuple[int, int]:
    """``(h, w)`` from an int (square) or an ``(h, w)`` pair."""
    if isinstance(size, int):
        size = (size, size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f'{owner}: size must be a positive int or (h, w), got {size}')
    return int(size[0]), int(size[1])


def clip_of(results: Dict, owner: str) -> torch.Tensor:
    """``results['imgs']``, checked to be a ``(T, C, H, W)`` tensor."""
    if 'imgs' not in results:
        raise KeyError(f'{owner}: results has no "imgs"; put DecordDecode or '
                       'LoadImageAsClip before it in the pipeline')
    imgs = results['imgs']
    if not isinstance(imgs, torch.Tensor) or imgs.ndim != 4:
        raise TypeError(f'{owner}: expected imgs as a (T, C, H, W) tensor, '
                        f'got {type(imgs).__name__} of shape '
                        f'{tuple(getattr(imgs, "shape", ()))}')
    return imgs


def store_clip(results: Dict, imgs: torch.Tensor) -> Dict:
    results['imgs'] = imgs
    results['img_shape'] = tuple(imgs.shape[-2:])
    return results


@TRANSFORMS.register_module()
class Resize:
    """Resize every frame to the same size (antialiased).

    Args:
        scale: with ``keep_ratio=False``, the exact ``(w, h)``. With
            ``keep_ratio=True``, an int is the new SHORT side, and a
            ``(w, h)`` pair is a box the frame is scaled to fit within.
        keep_ratio: keep the aspect ratio (see ``scale``).
        interpolation: ``nearest``, ``bilinear`` or ``bicubic``.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 keep_ratio: bool = False,
                 interpolation: str = 'bilinear') -> None:
        if isinstance(scale, int):
            if not keep_ratio:
                raise ValueError(
                    f'Resize: an int scale ({scale}) is a short side and '
                    'needs keep_ratio=True; pass (w, h) for an exact size')
            if scale < 1:
                raise ValueError(f'Resize: scale must be >= 1, got {scale}')
        else:
            if len(scale) != 2 or min(scale) < 1:
                raise ValueError(
                    f'Resize: scale must be an int or (w, h), got {scale}')
            scale = (int(scale[0]), int(scale[1]))
        self.scale = scale
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation, 'Resize')

    def output_size(self, height: int, width: int) -> Tuple[int, int]:
        """The ``(h, w)`` a ``height x width`` frame is resized to."""
        if not self.keep_ratio:
            return self.scale[1], self.scale[0]
        if isinstance(self.scale, int):
            factor = self.scale / min(height, width)
        else:
            factor = min(self.scale[0] / width, self.scale[1] / height)
        return (max(1, round(height * factor)), max(1, round(width * factor)))

    def __call__(self, results: Dict) -> Dict:
        """Resize ``results['imgs']`` ``(T, C, H, W)`` to ``(T, C, h, w)``.
        """
        imgs = clip_of(results, 'Resize')
        size = self.output_size(*imgs.shape[-2:])
        if tuple(imgs.shape[-2:]) != size:
            imgs = F.resize(
                imgs, list(size), interpolation=self._mode, antialias=True)
        return store_clip(results, imgs)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation!r})')


class _Crop:
    """Shared crop logic; subclasses choose the top-left corner."""

    def __init__(self, size: Union[int, Sequence[int]]) -> None:
        self.size = _pair(size, type(self).__name__)

    def _corner(self, height: int, width: int,
                results: Dict) -> Tuple[int, int]:
        raise NotImplementedError

    def __call__(self, results: Dict) -> Dict:
        """Crop ``results['imgs']`` ``(T, C, H, W)`` to ``(T, C, h, w)``.

        Adds ``crop_bbox`` = ``(x1, y1, x2, y2)`` in the input frame.

        Raises:
            ValueError: the frame is smaller than the crop (no padding).
        """
        name = type(self).__name__
        imgs = clip_of(results, name)
        height, width = imgs.shape[-2:]
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            raise ValueError(
                f'{name}: the crop (h, w)=({crop_h}, {crop_w}) is larger '
                f'than the frame (H, W)=({height}, {width}) of '
                f'{results.get("video_path", results.get("img_path"))}; '
                'put a Resize before it (no padding is done)')
        top, left = self._corner(height, width, results)
        results['crop_bbox'] = (left, top, left + crop_w, top + crop_h)
        return store_clip(results, F.crop(imgs, top, left, crop_h, crop_w))

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size})'


@TRANSFORMS.register_module()
class RandomCrop(_Crop, RandomTransform):
    """Crop the same random ``(h, w)`` window out of every frame.

    Args:
        size: an int (square) or ``(h, w)``.
    """

    def _corner(self, height: int, width: int,
                results: Dict) -> Tuple[int, int]:
        rng = self.rng(results)
        top = rng.integers(0, height - self.size[0] + 1)
        left = rng.integers(0, width - self.size[1] + 1)
        return int(top), int(left)


@TRANSFORMS.register_module()
class CenterCrop(_Crop):
    """Crop the central ``(h, w)`` window of every frame.

    Args:
        size: an int (square) or ``(h, w)``.
    """

    def _corner(self, height: int, width: int,
                results: Dict) -> Tuple[int, int]:
        return (height - self.size[0]) // 2, (width - self.size[1]) // 2


@TRANSFORMS.register_module()
class RandomResizedCrop(RandomTransform):
    """Crop a random area and aspect ratio, then resize to ``size``.

    What ALPRO applies to CC-3M images. Up to ten draws of an area
    fraction in ``scale`` and a log-uniform aspect ratio (w / h) in
    ``ratio``; the first window that fits is used, otherwise the largest
    central window whose ratio is clamped into ``ratio``.

    Args:
        size: output, an int (square) or ``(h, w)``.
        scale: range of the crop's area as a fraction of the frame's.
        ratio: range of the crop's aspect ratio w / h.
        interpolation: ``nearest``, ``bilinear`` or ``bicubic``.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 scale: Sequence[float] = (0.2, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3),
                 interpolation: str = 'bicubic') -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError('RandomResizedCrop: scale must satisfy '
                             f'0 < min <= max <= 1, got {scale}')
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError('RandomResizedCrop: ratio must satisfy '
                             f'0 < min <= max, got {ratio}')
        self.size = _pair(size, 'RandomResizedCrop')
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation, 'RandomResizedCrop')

    def window(
        self,
        height: int,
        width: int,
        rng: Optional[np.random.Generator] = None
    ) -> Tuple[int, int, int, int]:
        """A random crop window ``(top, left, h, w)`` of the frame.

        Args:
            height: frame height.
            width: frame width.
            rng: the draws' generator (default: one seeded from NumPy's
                global state).
        """
        rng = global_generator() if rng is None else rng
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            crop_w = int(round(math.sqrt(target * aspect)))
            crop_h = int(round(math.sqrt(target / aspect)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                top = rng.integers(0, height - crop_h + 1)
                left = rng.integers(0, width - crop_w + 1)
                return int(top), int(left), crop_h, crop_w
        # No draw fitted (an extreme frame ratio): the whole frame, cut to
        # the nearest allowed ratio, centred.
        frame_ratio = width / height
        crop_h, crop_w = height, width
        if frame_ratio < self.ratio[0]:
            crop_h = max(1, min(height, round(width / self.ratio[0])))
        elif frame_ratio > self.ratio[1]:
            crop_w = max(1, min(width, round(height * self.ratio[1])))
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def __call__(self, results: Dict) -> Dict:
        """Crop and resize ``results['imgs']`` ``(T, C, H, W)`` to
        ``(T, C, *size)``; adds ``crop_bbox`` ``(x1, y1, x2, y2)``."""
        imgs = clip_of(results, 'RandomResizedCrop')
        top, left, crop_h, crop_w = self.window(*imgs.shape[-2:],
                                                self.rng(results))
        results['crop_bbox'] = (left, top, left + crop_w, top + crop_h)
        imgs = F.resized_crop(
            imgs,
            top,
            left,
            crop_h,
            crop_w,
            list(self.size),
            interpolation=self._mode,
            antialias=True)
        return store_clip(results, imgs)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class Flip(RandomTransform):
    """Flip every frame of the clip, or none, with probability
    ``flip_ratio``.

    Adds ``flip`` (bool) and ``flip_direction``.

    Args:
        flip_ratio: probability of flipping.
        direction: ``horizontal`` or ``vertical``.
    """

    def __init__(self,
                 flip_ratio: float = 0.5,
                 direction: str = 'horizontal') -> None:
        if not 0 <= flip_ratio <= 1:
            raise ValueError(
                f'Flip: flip_ratio must be in [0, 1], got {flip_ratio}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError('Flip: direction must be "horizontal" or '
                             f'"vertical", got {direction!r}')
        self.flip_ratio = flip_ratio
        self.direction = direction

    def __call__(self, results: Dict) -> Dict:
        """Flip ``results['imgs']`` ``(T, C, H, W)``; the shape is kept."""
        imgs = clip_of(results, 'Flip')
        flip = bool(self.rng(results).random() < self.flip_ratio)
        if flip:
            imgs = (
                F.horizontal_flip(imgs)
                if self.direction == 'horizontal' else F.vertical_flip(imgs))
        results['flip'] = flip
        results['flip_direction'] = self.direction
        return store_clip(results, imgs)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(flip_ratio={self.flip_ratio}, '
                f'direction={self.direction!r})')


#: The ten ops of ALPRO's ``TemporalConsistentRandomAugment``.
