"""Loading transforms: open a video, choose its frames, decode only those.

Every transform takes and returns the pipeline's ``results`` dict. From
decoding on, frames travel as one uint8 RGB tensor ``results['imgs']`` of
shape ``(T, C, H, W)``, and ``results['img_shape']`` is its ``(H, W)``.

A file that cannot be used (missing, empty, truncated, undecodable, no
frames) raises :class:`~alpro.datasets.errors.BadSampleError`, which the
dataset turns into a replacement sample and a log entry.

decord 0.6 has quirks the transforms work around (a few output widths give
garbage frames, so resized decoding asks for widths that are multiples of
32; ``width=-1`` does not keep the aspect ratio, so both sides are given; a
frame's size is known only by decoding one): ``docs/data.md``, "decord 0.6
quirks", has what was measured.
"""
import os
import re
from typing import Dict, Optional, Sequence, Tuple

import decord
import numpy as np
import torch
from PIL import Image

from alpro.datasets.data_worker import get_decoder_threads
from alpro.datasets.errors import BadSampleError
from alpro.registry import TRANSFORMS
from .random_transform import RandomTransform, global_generator

__all__ = ['DecordInit', 'SampleFrames', 'DecordDecode', 'LoadImageAsClip']

# decord's C++ errors start with "[hh:mm:ss] /path/file.cc:123: ", sometimes
# twice (an error re-raised by a decoder thread); the log needs the rest.
_DECORD_PREFIX = re.compile(r'^(\[[\d:]+\]\s+\S+:\d+:\s*)+')
_WIDTH_QUIRK = 'DECORDArrayCopyFromTo'
# decord 0.6 resizes at decode correctly only to widths that are multiples
# of this (see the module docstring).
_WIDTH_MULTIPLE = 32


def _decord_message(err: BaseException) -> str:
    """The first line of a decord error, without its source prefix."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else type(err).__name__
    message = _DECORD_PREFIX.sub('', first).strip()
    if _WIDTH_QUIRK in message:
        message += (' (decord 0.6 cannot return frames of some widths, '
                    'e.g. 16, 24, 48 or 72 pixels; decode at a width that '
                    'is a multiple of 32)')
    return message or type(err).__name__


def _check_file(path: str) -> None:
    """Raise BadSampleError unless ``path`` is a non-empty file."""
    if not os.path.isfile(path):
        raise BadSampleError(path, 'file not found')
    if os.path.getsize(path) == 0:
        raise BadSampleError(path, 'empty file')


def _sample_path(results: dict) -> str:
    """The file a sample comes from, for error messages."""
    return str(results.get('video_path', results.get('img_path', '<unknown>')))


@TRANSFORMS.register_module()
class DecordInit:
    """Open ``results['video_path']`` with decord, at a bounded frame size.

    The video is opened at its native size and its first frame decoded to
    learn that size (decord has no cheaper way; one frame costs about as
    much as one key frame of the clip). If the longer side exceeds
    ``max_decode_size`` the video is re-opened so that decord scales the
    frames while decoding: the width is rounded DOWN to a multiple of 32
    (at least 32; decord 0.6 mis-copies some other widths but no multiple
    of 32, see the module docstring) and the height follows the aspect
    ratio, so the longer side is at most ``max_decode_size``. For a frame
    so narrow that even a 32-pixel width would push the height past the
    bound, the height is clamped and the aspect ratio is not kept. A video
    whose own width decord cannot return (16, 24, 48 or 72 pixels, see the
    module docstring) is decoded at the multiple of 32 below it (at least
    32, upscaling if needed).

    Added keys: ``video_reader`` (``decord.VideoReader``), ``total_frames``
    (int), ``avg_fps`` (float), ``original_shape`` (native ``(H, W)``).

    Args:
        max_decode_size: the largest side, in pixels, frames are decoded
            at. At least 32.
        num_threads: decoding threads per reader (0 lets decord choose);
            ``None``: the number the data-loader worker was started with
            (``init_data_worker(decoder_threads=...)``, 1 by default).
        decode_size: decode every video at this fixed ``(w, h)`` instead,
            as ALPRO does (e.g. ``(288, 288)``); the width must be a
            multiple of 32. Overrides ``max_decode_size``.

    Raises:
        BadSampleError: the file is missing ('file not found'), has zero
            bytes ('empty file'), or decord cannot open it or decode its
            first frame ('cannot open: <decord's message>').
    """

    def __init__(self,
                 max_decode_size: int = 1024,
                 num_threads: Optional[int] = None,
                 decode_size: Optional[Sequence[int]] = None) -> None:
        if int(max_decode_size) < _WIDTH_MULTIPLE:
            raise ValueError(f'DecordInit: max_decode_size must be at least '
                             f'{_WIDTH_MULTIPLE}, got {max_decode_size}')
        if num_threads is not None and num_threads < 0:
            raise ValueError(
                f'DecordInit: num_threads must be >= 0, got {num_threads}')
        if decode_size is not None:
            if len(decode_size) != 2 or min(decode_size) < 1:
                raise ValueError(
                    'DecordInit: decode_size must be (width, height) of '
                    f'positive ints, got {decode_size}')
            if decode_size[0] % _WIDTH_MULTIPLE:
                raise ValueError(
                    f'DecordInit: the width of decode_size={decode_size} '
                    f'must be a multiple of {_WIDTH_MULTIPLE}: decord 0.6 '
                    'fails to copy frames resized to other widths (e.g. '
                    '48); try '
                    f'{max(_WIDTH_MULTIPLE, decode_size[0] // 32 * 32)}')
            decode_size = (int(decode_size[0]), int(decode_size[1]))
        self.max_decode_size = int(max_decode_size)
        self.num_threads = num_threads
        self.decode_size = decode_size

    def _open(self,
              path: str,
              width: int = -1,
              height: int = -1) -> decord.VideoReader:
        try:
            threads = (
                get_decoder_threads()
                if self.num_threads is None else self.num_threads)
            return decord.VideoReader(
                path, width=width, height=height, num_threads=threads)
        # decord reports FFmpeg failures as RuntimeError, DECORDError or an
        # AssertionError (no frames); all of them mean "unusable file".
        except Exception as err:
            raise BadSampleError(path, f'cannot open: {_decord_message(err)}')

    def _fit(self, height: int, width: int, new_w: int) -> Tuple[int, int]:
        """``(w, h)``: ``new_w`` rounded down to a multiple of 32 (at least
        32), the height from the aspect ratio, clamped to the bound."""
        step = _WIDTH_MULTIPLE
        new_w = max(step, new_w // step * step)
        new_h = (2 * new_w * height + width) // (2 * width)
        return new_w, min(max(new_h, 1), self.max_decode_size)

    def target_size(self,
                    height: int,
                    width: int,
                    width_ok: bool = True) -> Optional[Tuple[int, int]]:
        """The ``(w, h)`` to decode a ``height x width`` video at.

        Args:
            height: native frame height.
            width: native frame width.
            width_ok: False when decord cannot return frames of the native
                width (see the module docstring): the frame is then decoded
                at a multiple of 32 even within bounds.

        Returns:
            ``None`` to decode at the native size.
        """
        if self.decode_size is not None:
            return self.decode_size
        longer = max(height, width)
        if longer > self.max_decode_size:
            # Integer arithmetic: a float scale can land a hair under an
            # exact multiple of 32 and lose a whole step when rounded down.
            return self._fit(height, width,
                             width * self.max_decode_size // longer)
        if not width_ok:
            return self._fit(height, width, width)
        return None

    def __call__(self, results: Dict) -> Dict:
        """Open the video.

        Args:
            results: needs ``video_path``.

        Returns:
            ``results`` with ``video_reader``, ``total_frames``,
            ``avg_fps`` and ``original_shape`` added.
        """
        path = str(results['video_path'])
        _check_file(path)
        reader = self._open(path)
        try:
            # Right after opening no seek is needed: the cheapest frame.
            shape = reader.next().shape
        except Exception as err:
            raise BadSampleError(path, f'cannot open: {_decord_message(err)}')
        height, width = int(shape[0]), int(shape[1])
        # A channel count other than 3 is decord's row-padding quirk.
        target = self.target_size(height, width, width_ok=shape[2] == 3)
        if target is not None:
            del reader
            reader = self._open(path, width=target[0], height=target[1])
        results['video_reader'] = reader
        results['total_frames'] = len(reader)
        results['avg_fps'] = float(reader.get_avg_fps())
        results['original_shape'] = (height, width)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'max_decode_size={self.max_decode_size}, '
                f'num_threads={self.num_threads}, '
                f'decode_size={self.decode_size})')


@TRANSFORMS.register_module()
class SampleFrames(RandomTransform):
    """Choose ``num_frames`` frame indices of a ``total_frames`` long video.

    Strategies, as ALPRO's ``_load_video_from_path_decord`` (T =
    ``num_frames``, ``vlen`` = ``results['total_frames']``):

    * ``uniform`` / ``nlvl_uniform``: ``floor(i * vlen / T)`` for
      ``i < T``, computed in integers (ALPRO's float ``np.arange(0, vlen,
      vlen / T)`` means the same).
    * ``rand``: T distinct frames drawn at random, sorted.
    * ``headtail``: T/2 distinct random frames of the first half
      ``[0, vlen // 2)`` followed by T/2 of the second half
      ``[vlen // 2, vlen)``, each half sorted. T must be even.
    * ``nlvl_rand``: segment-based (TSN-style): the uniform grid cuts the
      video into T segments ``[floor(i * vlen / T), floor((i + 1) * vlen /
      T))`` and one frame is drawn from each.

    Short videos repeat frames, in temporal order:

    * ``uniform`` and ``nlvl_*`` repeat grid points by themselves (an empty
      segment gives its start).
    * ``rand`` (and each half of ``headtail``) with fewer frames than asked
      takes every frame once plus the missing number drawn with replacement,
      then sorts: every frame appears, some twice or more, never out of
      order. A one-frame video gives ``headtail`` its only frame for both
      halves.

    With ``test_mode=True`` no randomness is used: ``rand`` and
    ``nlvl_rand`` give the ``uniform`` indices, ``headtail`` gives the
    uniform grid of each half (``floor(i * h / (T/2))`` over the first half
    of length ``h = max(vlen // 2, 1)``, then ``vlen // 2 + floor(i * (vlen
    - vlen // 2) / (T/2))``).

    Random draws come from the sample's own generator
    (:class:`~alpro.datasets.transforms.RandomTransform`): bound by a
    :class:`~alpro.datasets.samplers.SeededSampler`, the indices depend only
    on ``(seed, epoch, rank, sample index)``.

    Multi-clip (test-time averaging): with ``num_clips=K > 1`` the video is
    cut into K equal segments and T frames are sampled from each as above;
    the K clips are concatenated, ``(K * T,)`` indices, and a model built
    for it (e.g. ``AlproRetrieval(test_clips=K)``) averages over them.

    Added keys: ``frame_inds``, ``np.int64`` array of shape ``(K * T,)``,
    non-decreasing, each in ``[0, vlen)``; ``short_clip`` (bool), True when
    ``vlen < K * T`` so that frames repeat (``BadSampleHook`` counts these).

    Args:
        num_frames: T, frames per clip.
        strategy: one of ``uniform``, ``rand``, ``headtail``,
            ``nlvl_uniform``, ``nlvl_rand``.
        test_mode: sample deterministically (see above).
        num_clips: K, clips per video (1: one clip over the whole video).

    Raises:
        BadSampleError: the video has no frames.
    """

    STRATEGIES = ('uniform', 'rand', 'headtail', 'nlvl_uniform', 'nlvl_rand')

    def __init__(self,
                 num_frames: int,
                 strategy: str = 'rand',
                 test_mode: bool = False,
                 num_clips: int = 1) -> None:
        if int(num_clips) < 1:
            raise ValueError(
                f'SampleFrames: num_clips must be >= 1, got {num_clips}')
        if int(num_frames) < 1:
            raise ValueError(
                f'SampleFrames: num_frames must be >= 1, got {num_frames}')
        if strategy not in self.STRATEGIES:
            raise ValueError(f'SampleFrames: unknown strategy {strategy!r}; '
                             f'choose one of {self.STRATEGIES}')
        if strategy == 'headtail' and num_frames % 2:
            raise ValueError(
                'SampleFrames: the headtail strategy takes half of the '
                f'frames from each half, so num_frames must be even, got '
                f'{num_frames}')
        self.num_frames = int(num_frames)
        self.strategy = strategy
        self.test_mode = test_mode
        self.num_clips = int(num_clips)

    @property
    def draws(self) -> bool:
        """Whether sampling is random (not ``test_mode``, not uniform)."""
        return not self.test_mode and self.strategy in ('rand', 'headtail',
                                                        'nlvl_rand')

    @staticmethod
    def _grid(start: int, length: int, num: int) -> np.ndarray:
        """``start + floor(i * length / num)`` for ``i < num``."""
        return start + np.arange(num, dtype=np.int64) * length // num

    @staticmethod
    def _random_sorted(start: int, length: int, num: int,
                       rng: np.random.Generator) -> np.ndarray:
        """``num`` sorted random frames of ``[start, start + length)``."""
        if length >= num:
            inds = rng.choice(length, num, replace=False)
        else:
            # Every frame once, then the shortfall with replacement.
            extra = rng.integers(0, length, num - length)
            inds = np.concatenate([np.arange(length), extra])
        return start + np.sort(inds).astype(np.int64)

    @classmethod
    def _bounds(cls, vlen: int, num: int) -> Tuple[np.ndarray, np.ndarray]:
        """Starts and ends of ``num`` equal segments of ``[0, vlen)``: segment
        ``k`` is ``[floor(k vlen / num), floor((k + 1) vlen / num))``."""
        starts = cls._grid(0, vlen, num)
        return starts, np.append(starts[1:], vlen)

    def _segments(self, vlen: int, rng: np.random.Generator) -> np.ndarray:
        starts, ends = self._bounds(vlen, self.num_frames)
        # An empty segment (vlen < T) gives its start: repeats stay ordered.
        offsets = rng.integers(0, np.maximum(ends - starts, 1))
        return starts + offsets.astype(np.int64)

    def sample(self,
               vlen: int,
               rng: Optional[np.random.Generator] = None) -> np.ndarray:
        """Frame indices for a video of ``vlen`` (> 0) frames.

        Args:
            vlen: frames in the video (or in one clip's segment).
            rng: the draws' generator (default: one seeded from NumPy's
                global state).

        Returns:
            ``np.int64`` array of shape ``(num_frames,)``.
        """
        if rng is None and self.draws:
            rng = global_generator()
        num = self.num_frames
        strategy = self.strategy
        if strategy == 'headtail':
            half = num // 2
            mid = vlen // 2
            # vlen == 1 has an empty first half: use frame 0 for both.
            head_len = max(mid, 1)
            tail_start = min(mid, vlen - 1)
            tail_len = vlen - tail_start
            if self.test_mode:
                head = self._grid(0, head_len, half)
                tail = self._grid(tail_start, tail_len, half)
            else:
                head = self._random_sorted(0, head_len, half, rng)
                tail = self._random_sorted(tail_start, tail_len, half, rng)
            return np.concatenate([head, tail])
        if self.test_mode or strategy in ('uniform', 'nlvl_uniform'):
            return self._grid(0, vlen, num)
        if strategy == 'rand':
            return self._random_sorted(0, vlen, num, rng)
        return self._segments(vlen, rng)

    def __call__(self, results: Dict) -> Dict:
        """Sample frame indices.

        Args:
            results: needs ``total_frames``.

        Returns:
            ``results`` with ``frame_inds`` added.
        """
        vlen = int(results['total_frames'])
        if vlen <= 0:
            raise BadSampleError(
                _sample_path(results), f'no frames (total_frames={vlen})')
        # clip k samples within its segment, at least one frame long (sample
        # returns indices below its length, so every index is below vlen)
        starts, ends = self._bounds(vlen, self.num_clips)
        rng = self.rng(results) if self.draws else None
        results['frame_inds'] = np.concatenate([
            start + self.sample(max(int(end - start), 1), rng)
            for start, end in zip(starts, ends)
        ])
        results['short_clip'] = vlen < self.num_frames * self.num_clips
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_frames={self.num_frames}, '
                f'strategy={self.strategy!r}, test_mode={self.test_mode}, '
                f'num_clips={self.num_clips})')


@TRANSFORMS.register_module()
class DecordDecode:
    """Decode only the sampled frames and release the reader.

    Added keys: ``imgs`` (uint8 RGB tensor ``(T, C, H, W)``), ``img_shape``
    (``(H, W)``). Removed key: ``video_reader``.

    Raises:
        BadSampleError: decord fails on one of the frames (e.g. a truncated
            file whose index promises more frames than it holds), with the
            reason ``'cannot decode frames [...]: <decord's message>'``.
    """

    def __call__(self, results: Dict) -> Dict:
        """Decode ``results['frame_inds']``.

        Args:
            results: needs ``video_reader`` (from :class:`DecordInit`) and
                ``frame_inds`` (from :class:`SampleFrames`).

        Returns:
            ``results`` with ``imgs`` and ``img_shape``.
        """
        # Pop first: the file is released however decoding ends.
        reader = results.pop('video_reader')
        inds = [int(i) for i in np.asarray(results['frame_inds']).ravel()]
        try:
            frames = reader.get_batch(inds)
        except Exception as err:  # decord raises DECORDError, IndexError...
            raise BadSampleError(
                _sample_path(results),
                f'cannot decode frames {inds}: {_decord_message(err)}')
        finally:
            del reader
        # Another library may have switched decord's global bridge to torch.
        if isinstance(frames, torch.Tensor):
            frames = frames.numpy()
        elif hasattr(frames, 'asnumpy'):
            frames = frames.asnumpy()
        imgs = torch.from_numpy(np.ascontiguousarray(frames))
        imgs = imgs.permute(0, 3, 1, 2).contiguous()
        results['imgs'] = imgs
        results['img_shape'] = tuple(imgs.shape[-2:])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


@TRANSFORMS.register_module()
class LoadImageAsClip:
    """Read ``results['img_path']`` as a clip of ``num_frames`` equal frames.

    For image-text corpora (CC-3M) fed to a video model. The image is read
    with Pillow in RGB; if its longer side exceeds ``max_decode_size`` it is
    shrunk (aspect kept; JPEGs are decoded at a reduced scale directly).
    The clip is a stride-0 ``expand`` of one frame, so no memory is copied;
    later transforms return new tensors and
    :class:`~alpro.datasets.transforms.PackVideoTextInputs` makes the result
    contiguous.

    Added keys: ``imgs`` (uint8 ``(T, C, H, W)``), ``img_shape``,
    ``original_shape`` (``(H, W)`` of the file), ``total_frames`` (1),
    ``frame_inds`` (zeros, ``np.int64`` of shape ``(T,)``).

    Args:
        num_frames: T.
        max_decode_size: the longest side kept, in pixels.

    Raises:
        BadSampleError: the file is missing, empty or not a decodable image.
    """

    def __init__(self, num_frames: int, max_decode_size: int = 1024) -> None:
        if int(num_frames) < 1:
            raise ValueError('LoadImageAsClip: num_frames must be >= 1, got '
                             f'{num_frames}')
        if int(max_decode_size) < 1:
            raise ValueError('LoadImageAsClip: max_decode_size must be >= 1, '
                             f'got {max_decode_size}')
        self.num_frames = int(num_frames)
        self.max_decode_size = int(max_decode_size)

    def _shrunk_size(self, width: int,
                     height: int) -> Optional[Tuple[int, int]]:
        """``(w, h)`` within ``max_decode_size``; ``None`` if already so."""
        longer = max(width, height)
        if longer <= self.max_decode_size:
            return None
        scale = self.max_decode_size / longer
        return max(1, round(width * scale)), max(1, round(height * scale))

    def _read(self, path: str) -> Tuple[np.ndarray, Tuple[int, int]]:
        """Returns the RGB image ``(H, W, 3)`` and the file's ``(H, W)``."""
        try:
            with Image.open(path) as image:
                width, height = image.size
                target = self._shrunk_size(width, height)
                if target is not None:
                    # JPEG only: decode at 1/2, 1/4 or 1/8 scale, still at
                    # least ``target``; a no-op for other formats.
                    image.draft('RGB', target)
                rgb = image.convert('RGB')
            if target is not None and rgb.size != target:
                rgb = rgb.resize(target, Image.Resampling.BICUBIC)
            return np.array(rgb), (height, width)
        # Pillow: UnidentifiedImageError/OSError (not an image, truncated),
        # SyntaxError/ValueError (broken headers), DecompressionBombError.
        except (OSError, SyntaxError, ValueError,
                Image.DecompressionBombError) as err:
            raise BadSampleError(path, f'cannot decode image: {err}')

    def __call__(self, results: Dict) -> Dict:
        """Load the image.

        Args:
            results: needs ``img_path``.

        Returns:
            ``results`` with the keys listed above.
        """
        path = str(results['img_path'])
        _check_file(path)
        array, original_shape = self._read(path)
        frame = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        results['imgs'] = frame.unsqueeze(0).expand(self.num_frames, -1, -1,
                                                    -1)
        results['img_shape'] = tuple(frame.shape[-2:])
        results['original_shape'] = original_shape
        results['total_frames'] = 1
        results['frame_inds'] = np.zeros(self.num_frames, dtype=np.int64)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_frames={self.num_frames}, '
                f'max_decode_size={self.max_decode_size})')
