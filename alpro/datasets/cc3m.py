"""Conceptual Captions (CC-3M) image-caption pairs, as T-frame clips."""
import csv
import os.path as osp
from typing import List, Optional

import numpy as np

from alpro.registry import DATASETS
from .base_video_text_dataset import (AnnotationError, BaseVideoTextDataset,
                                      load_json)

__all__ = ['CC3MDataset']


def _captions(record) -> Optional[List[str]]:
    """The stripped captions of an ALPRO record, None if it is malformed."""
    if not isinstance(record, dict) or not isinstance(
            record.get('image'), str):
        return None
    captions = record.get('caption')
    if isinstance(captions, str):
        captions = [captions]
    if not isinstance(captions, list) or not captions:
        return None
    if not all(isinstance(c, str) and c.strip() for c in captions):
        return None
    return [c.strip() for c in captions]


@DATASETS.register_module()
class CC3MDataset(BaseVideoTextDataset):
    """CC-3M for pre-training beside WebVid (pair it with
    ``LoadImageAsClip`` in the pipeline).

    Two annotation forms, told apart by the file's extension:

    * ``.json``: ALPRO's release (``cc3m.json``), a list of
      ``{"image": path, "caption": str or [str, ...]}``; the path is taken as
      given, or under ``data_prefix.img`` when that is set. A caption list
      gives one caption per draw: a random one in training, the first in
      test mode.
    * ``.tsv``: the original ``Train_GCC-training.tsv``, ``caption<TAB>url``
      without a header. Image files are named by the downloader; row ``i``
      (from 0) is read from ``{data_prefix.img}/{image_name.format(index=i)}``
      (default ``{index:06d}.jpg``).

    Args:
        ann_file: the JSON or TSV file.
        image_name: file name template of a TSV row's image.
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    media_key = 'img'

    def __init__(self,
                 ann_file: str,
                 image_name: str = '{index:06d}.jpg',
                 **kwargs) -> None:
        self.image_name = image_name
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        ext = osp.splitext(self.ann_file)[1].lower()
        if ext == '.json':
            return self._load_alpro_json()
        if ext == '.tsv':
            return self._load_tsv()
        raise AnnotationError(
            self.ann_file, None,
            f"unknown CC-3M annotation form '{ext}': expected ALPRO's .json "
            'or the original .tsv')

    def _load_alpro_json(self) -> List[dict]:
        records = load_json(self.ann_file)
        if not isinstance(records, list):
            raise AnnotationError(self.ann_file, None,
                                  'expected a JSON list of records')
        data_list = []
        for i, record in enumerate(records):
            captions = _captions(record)
            if captions is None:
                raise AnnotationError(
                    self.ann_file, i,
                    'expected {"image": path, "caption": str or [str, ...]} '
                    f'with non-empty captions, got {str(record)[:120]}',
                    'record')
            data_list.append(
                dict(
                    video_id=record['image'],
                    img_path=self.resolve_path(record['image'], i, 'record'),
                    captions=captions))
        return data_list

    def _load_tsv(self) -> List[dict]:
        data_list = []
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.reader(f, delimiter='\t', quoting=csv.QUOTE_NONE)
            for index, row in enumerate(reader):
                if len(row) != 2 or not row[0].strip():
                    raise AnnotationError(
                        self.ann_file, reader.line_num,
                        f'expected caption<TAB>url, got {len(row)} fields')
                name = self.image_name.format(index=index)
                data_list.append(
                    dict(
                        video_id=name,
                        img_path=self.resolve_path(name, reader.line_num),
                        captions=[row[0].strip()]))
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        captions = info.pop('captions')
        pick = 0 if self.test_mode else np.random.randint(len(captions))
        info['text'] = captions[pick]
        return info
