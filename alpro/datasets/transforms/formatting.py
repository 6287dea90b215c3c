"""Formatting transforms: hand a sample over to collate and the model."""
from typing import Dict, Sequence

import numpy as np
import torch

from alpro.registry import TRANSFORMS
from alpro.structures import VideoTextDataSample

__all__ = ['PackVideoTextInputs']


def _plain(value):
    """Meta values as plain Python, so that they print and collate simply.
    """
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@TRANSFORMS.register_module()
class PackVideoTextInputs:
    """Pack the clip and a :class:`VideoTextDataSample` for the model.

    Returns a new dict ``{'inputs': imgs, 'data_samples': data_sample}``:

    * ``inputs``: contiguous uint8 RGB tensor ``(T, C, H, W)`` (an expanded
      image clip is copied into real memory here);
    * ``data_samples``: metainfo from the ``meta_keys`` present in
      ``results`` (``frame_inds`` as a list of int, ``img_shape`` as a
      tuple); ``text`` as a data field when ``results`` has it; and every
      key of ``data_keys`` (e.g. ``answer_label``) as a data field.

    Args:
        meta_keys: keys copied into the metainfo when present.
        data_keys: keys copied as data fields; each must be present.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('sample_idx', 'video_id', 'video_path',
                                    'img_path', 'frame_inds', 'img_shape',
                                    'short_clip', 'replaced'),
        data_keys: Sequence[str] = ()
    ) -> None:
        if isinstance(meta_keys, str):
            meta_keys = (meta_keys, )
        if isinstance(data_keys, str):
            data_keys = (data_keys, )
        self.meta_keys = tuple(meta_keys)
        self.data_keys = tuple(data_keys)

    def __call__(self, results: Dict) -> Dict:
        """Pack one sample.

        Args:
            results: needs ``imgs`` and every key of ``data_keys``.

        Returns:
            ``{'inputs': (T, C, H, W) uint8 tensor, 'data_samples':
            VideoTextDataSample}``.
        """
        if 'imgs' not in results:
            raise KeyError(
                'PackVideoTextInputs: results has no "imgs"; the pipeline '
                'needs DecordDecode (videos) or LoadImageAsClip (images) '
                f'before packing. Keys present: {sorted(results)}')
        imgs = results['imgs']
        if (not isinstance(imgs, torch.Tensor) or imgs.ndim != 4
                or imgs.dtype != torch.uint8):
            raise TypeError(
                'PackVideoTextInputs: imgs must be a uint8 (T, C, H, W) '
                f'tensor, got {type(imgs).__name__} '
                f'{getattr(imgs, "dtype", "")} of shape '
                f'{tuple(getattr(imgs, "shape", ()))}')
        data_sample = VideoTextDataSample()
        metainfo = {
            key: _plain(results[key])
            for key in self.meta_keys if key in results
        }
        if 'img_shape' in metainfo:
            metainfo['img_shape'] = tuple(
                int(s) for s in metainfo['img_shape'])
        if 'frame_inds' in metainfo:
            metainfo['frame_inds'] = [int(i) for i in metainfo['frame_inds']]
        data_sample.set_metainfo(metainfo)
        if 'text' in results:
            data_sample.text = results['text']
        for key in self.data_keys:
            if key not in results:
                raise KeyError(
                    f'PackVideoTextInputs: data key {key!r} is not in '
                    f'results (keys present: {sorted(results)})')
            data_sample.set_field(results[key], key)
        return {'inputs': imgs.contiguous(), 'data_samples': data_sample}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'data_keys={self.data_keys})')
