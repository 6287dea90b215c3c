"""Loading transforms: open a video, choose its frames, decode only those.

Every transform takes and returns the pipeline's ``results`` dict. From
decoding on, frames travel as one uint8 RGB tensor ``results['imgs']`` of
shape ``(T, C, H, W)``, and ``results['img_shape']`` is its ``(H, W)``.

A video comes from ``results['video_path']`` (a file) or, for samples read
from a shard, from its bytes in ``results['video_bytes']``, decoded in
memory (``video_path`` then only names it in messages). A file that cannot
be used (missing, empty, truncated, undecodable, no frames) raises
:class:`~alpro.datasets.errors.BadSampleError`, which the dataset turns
into a replacement sample and a log entry.

decord 0.6 has quirks the transforms work around (a few output widths give
garbage frames, so resized decoding asks for widths that are multiples of
32; ``width=-1`` does not keep the aspect ratio, so both sides are given; a
frame's size is known only by decoding one): ``docs/data.md``, "decord 0.6
quirks", has what was measured.
"""
import io
import os
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import decord
import numpy as np
import torch

from alpro.datasets.data_worker import get_decoder_threads
from alpro.datasets.errors import BadSampleError
from alpro.registry import TRANSFORMS

__all__ = ['DecordInit', 'DecordDecode']

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


def check_file(path: str) -> None:
    """Raise BadSampleError unless ``path`` is a non-empty file."""
    if not os.path.isfile(path):
        raise BadSampleError(path, 'file not found')
    if os.path.getsize(path) == 0:
        raise BadSampleError(path, 'empty file')


def media_source(results: dict, path_key: str,
                 bytes_key: str) -> Union[str, bytes]:
    """What to decode: the bytes under ``bytes_key`` (popped, so that they
    are held only as long as needed) or else the file ``results[path_key]``,
    checked to exist and be non-empty.

    Raises:
        BadSampleError: no file, or an empty file or empty bytes.
    """
    data = results.pop(bytes_key, None)
    path = str(results[path_key])
    if data is None:
        check_file(path)
        return path
    if not data:
        raise BadSampleError(path, 'empty file')
    return bytes(data)


def sample_path(results: dict) -> str:
    """The file a sample comes from, for error messages."""
    return str(results.get('video_path', results.get('img_path', '<unknown>')))


@TRANSFORMS.register_module()
class DecordInit:
    """Open ``results['video_path']`` with decord, at a bounded frame size.

    When ``results`` holds ``video_bytes`` (a sample read from a shard) the
    video is decoded from those bytes in memory, with no temporary file;
    ``video_path`` then names it in messages (e.g. ``shard.tar/key.mp4``).

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
              source: Union[str, bytes],
              path: str,
              width: int = -1,
              height: int = -1) -> decord.VideoReader:
        try:
            threads = (
                get_decoder_threads()
                if self.num_threads is None else self.num_threads)
            # decord reads a file-like object into memory (io type 2)
            uri = io.BytesIO(source) if isinstance(source, bytes) else source
            return decord.VideoReader(
                uri, width=width, height=height, num_threads=threads)
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
            results: needs ``video_path``; ``video_bytes`` (popped) when the
                video comes from memory.

        Returns:
            ``results`` with ``video_reader``, ``total_frames``,
            ``avg_fps`` and ``original_shape`` added.
        """
        source = media_source(results, 'video_path', 'video_bytes')
        path = str(results['video_path'])
        reader = self._open(source, path)
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
            reader = self._open(
                source, path, width=target[0], height=target[1])
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
                sample_path(results),
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
