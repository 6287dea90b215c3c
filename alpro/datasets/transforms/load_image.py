"""Load a still image as a clip of repeated frames."""
import io
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image

from alpro.datasets.errors import BadSampleError
from alpro.registry import TRANSFORMS
from .loading import media_source

__all__ = ['LoadImageAsClip']


@TRANSFORMS.register_module()
class LoadImageAsClip:
    """Read ``results['img_path']`` as a clip of ``num_frames`` equal frames.

    When ``results`` holds ``img_bytes`` (a sample read from a shard) the
    image is decoded from those bytes in memory; ``img_path`` then names it
    in messages.

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

    def _read(self, source: Union[str, bytes],
              path: str) -> Tuple[np.ndarray, Tuple[int, int]]:
        """Returns the RGB image ``(H, W, 3)`` and the file's ``(H, W)``."""
        try:
            file = io.BytesIO(source) if isinstance(source, bytes) else source
            with Image.open(file) as image:
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
            results: needs ``img_path``; ``img_bytes`` (popped) when the
                image comes from memory.

        Returns:
            ``results`` with the keys listed above.
        """
        source = media_source(results, 'img_path', 'img_bytes')
        array, original_shape = self._read(source, str(results['img_path']))
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
