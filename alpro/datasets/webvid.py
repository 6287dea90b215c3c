"""WebVid video-caption pairs: the official CSV and ALPRO's pickled form."""
import csv
import numbers
import os.path as osp
from typing import List

from alpro.registry import DATASETS
from .base_video_text_dataset import BaseVideoTextDataset
from .errors import AnnotationError, BadRowError, SkipRow
from .restricted_unpickler import load_dataframe

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
      does. It is read with a restricted unpickler that admits only plain
      types, numpy arrays and the pandas objects a DataFrame of strings and
      integers is made of (see :func:`~alpro.datasets.load_dataframe`);
      reading it needs pandas.

    Rows with an empty video id or caption, or of the wrong length, are bad
    rows: skipped and counted (see :class:`BaseVideoTextDataset`).

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
                text: object,
                line: int,
                unit: str = 'line') -> dict:
        if not stem:
            raise BadRowError('empty video id')
        if not isinstance(text, str) or not text.strip():
            raise BadRowError('empty caption')
        return dict(
            video_id=stem,
            video_path=self.resolve_path(stem + self.video_ext, line, unit),
            text=text.strip())

    def _load_csv(self) -> List[dict]:
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise AnnotationError(
                    self.ann_file, 1,
                    f'header lacks {sorted(missing)}; expected the official '
                    'columns videoid,contentUrl,duration,page_dir,name')
            width = len(reader.fieldnames)

            def parse(line: int, row: dict) -> dict:
                if None in row or None in row.values():
                    raise BadRowError(f'expected {width} fields, got a row '
                                      'of another length')
                page_dir = row['page_dir'].strip()
                if not page_dir:
                    raise SkipRow('empty page_dir (as the official WebVid '
                                  'tools do)')
                videoid = row['videoid'].strip()
                # resolve_path normalises a doubled '/'
                stem = videoid and page_dir + '/' + videoid
                return self._sample(stem, row['name'], line)

            # line_num is read after the row, so a quoted newline counts
            return self.collect_rows(
                ((reader.line_num, row) for row in reader), parse)

    def _load_alpro_pickle(self) -> List[dict]:
        frame = load_dataframe(self.ann_file)
        missing = {'video_id', 'text', 'txt_len'} - set(frame.columns)
        if missing:
            raise AnnotationError(
                self.ann_file, None,
                f"ALPRO's WebVid DataFrame lacks columns {sorted(missing)}")

        def parse(row: int, values: tuple) -> dict:
            video_id, text, txt_len = values
            try:
                too_long = int(txt_len) >= self.max_txt_len
            except (TypeError, ValueError):
                raise BadRowError(
                    f'txt_len {txt_len!r} is not a number') from None
            if too_long:
                raise SkipRow(f'txt_len >= max_txt_len={self.max_txt_len} '
                              '(as ALPRO does)')
            # a missing id reads as NaN, a float
            stem = str(video_id).strip() if isinstance(
                video_id, (str, numbers.Integral)) else ''
            return self._sample(stem, text, row, 'row')

        return self.collect_rows(
            enumerate(zip(frame['video_id'], frame['text'], frame['txt_len'])),
            parse, 'row')
