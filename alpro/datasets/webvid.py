"""WebVid video-caption pairs: the official CSV and ALPRO's pickled form."""
import csv
import logging
import os.path as osp
import pickle
from typing import List

from mmengine.logging import print_log

from alpro.registry import DATASETS
from .base_video_text_dataset import AnnotationError, BaseVideoTextDataset

__all__ = ['WebVidDataset']

CSV_COLUMNS = ('videoid', 'page_dir', 'name')


@DATASETS.register_module()
class WebVidDataset(BaseVideoTextDataset):
    """WebVid-2M/10M (or any corpus in its shape) for pre-training.

    Two annotation forms, told apart by the file's extension:

    * ``.csv``: the official release (``results_2M_train.csv``), header
      ``videoid,contentUrl,duration,page_dir,name``; the caption is ``name``
      and the video ``{data_prefix.video}/{page_dir}/{videoid}.mp4``. Rows
      with an empty ``page_dir`` are dropped (as the official tools do) and
      counted in the log.
    * ``.pkl``: ALPRO's release (``train.pkl``), a pickled pandas DataFrame
      with ``video_id`` (the path stem under the root), ``text`` and
      ``txt_len``; rows with ``txt_len >= max_txt_len`` are dropped, as ALPRO
      does. A pickle can run code when read: only name one you trust.
      Reading it needs pandas.

    Args:
        ann_file: the CSV or pickle.
        video_ext: extension appended to the video stem.
        max_txt_len: ALPRO's ``txt_len`` bound for the pickled form.
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 video_ext: str = '.mp4',
                 max_txt_len: int = 80,
                 **kwargs) -> None:
        self.video_ext = video_ext
        self.max_txt_len = max_txt_len
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        ext = osp.splitext(self.ann_file)[1].lower()
        if ext == '.csv':
            return self._load_csv()
        if ext == '.pkl':
            return self._load_alpro_pickle()
        raise AnnotationError(
            self.ann_file, None,
            f"unknown WebVid annotation form '{ext}': expected the official "
            ".csv or ALPRO's .pkl")

    def _sample(self,
                stem: str,
                text: str,
                line: int,
                unit: str = 'line') -> dict:
        if not stem or not text.strip():
            raise AnnotationError(self.ann_file, line,
                                  'empty video id or caption', unit)
        return dict(
            video_id=stem,
            video_path=self.resolve_path(stem + self.video_ext, line, unit),
            text=text.strip())

    def _load_csv(self) -> List[dict]:
        data_list, dropped = [], 0
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise AnnotationError(
                    self.ann_file, 1,
                    f'header lacks {sorted(missing)}; expected the official '
                    'columns videoid,contentUrl,duration,page_dir,name')
            for row in reader:
                line = reader.line_num
                if None in row or None in row.values():
                    raise AnnotationError(
                        self.ann_file, line,
                        f'expected {len(reader.fieldnames)} fields, got a '
                        'row of another length')
                if not row['page_dir'].strip():
                    dropped += 1
                    continue
                data_list.append(
                    self._sample(
                        osp.join(row['page_dir'].strip(),
                                 row['videoid'].strip()), row['name'], line))
        if dropped:
            print_log(
                f'{self.ann_file}: dropped {dropped} rows with an empty '
                'page_dir (as the official WebVid tools do)',
                logger='current',
                level=logging.WARNING)
        return data_list

    def _load_alpro_pickle(self) -> List[dict]:
        try:
            import pandas  # noqa: F401  (the pickle holds a DataFrame)
        except ImportError as error:
            raise ImportError(f"reading ALPRO's {self.ann_file} needs pandas: "
                              '`pip install pandas`') from error
        with open(self.ann_file, 'rb') as f:
            frame = pickle.load(f)
        missing = {'video_id', 'text', 'txt_len'} - set(frame.columns)
        if missing:
            raise AnnotationError(
                self.ann_file, None,
                f"ALPRO's WebVid DataFrame lacks columns {sorted(missing)}")
        data_list = []
        for row, (video_id, text, txt_len) in enumerate(
                zip(frame['video_id'], frame['text'], frame['txt_len'])):
            if int(txt_len) < self.max_txt_len:
                data_list.append(
                    self._sample(str(video_id), str(text), row, 'row'))
        return data_list
