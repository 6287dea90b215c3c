"""MSR-VTT text-to-video retrieval: ALPRO's jsonl and the public files."""
import csv
import os.path as osp
from typing import List, Optional, Set

from alpro.registry import DATASETS
from .base_video_text_dataset import (BaseVideoTextDataset, jsonl_lines,
                                      jsonl_record, load_json)
from .errors import AnnotationError, BadRowError

__all__ = ['MSRVTTRetrievalDataset']

JSFUSION_COLUMNS = ('video_id', 'sentence')


@DATASETS.register_module()
class MSRVTTRetrievalDataset(BaseVideoTextDataset):
    """MSR-VTT caption-video pairs for text-to-video retrieval.

    ALPRO fine-tunes on the 7k training split (``MSRVTT_train.7k.csv``, as
    JSFusion and ClipBERT did) and tests on the 1k-A split
    (``MSRVTT_JSFUSION_test.csv``, one sentence per video); most later works
    (Frozen in Time, CLIP4Clip) train on the 9k split
    (``MSRVTT_train.9k.csv``) and test on the same 1k-A.

    Three annotation forms, told apart by the file's extension:

    * ``.jsonl``: ALPRO's release (``msrvtt_ret/txt/train.jsonl``), one
      caption per line: ``{"caption": str, "clip_name": "video7010"}``.
    * ``.json``: the public ``MSRVTT_data.json``; its ``sentences`` (each with
      ``video_id`` and ``caption``) are kept for the videos listed in
      ``split_file`` (``MSRVTT_train.7k.csv`` or ``MSRVTT_train.9k.csv``,
      column ``video_id``): every caption of those videos.
    * ``.csv``: the public ``MSRVTT_JSFUSION_test.csv``, header
      ``key,vid_key,video_id,sentence``, one sentence per video.

    Each sample has ``video_id`` (the clip name), ``video_path``
    (``{data_prefix.video}/{clip}{video_ext}``) and ``text``. Rows that
    cannot be used (an empty caption or clip name, a line that is not JSON,
    a row of the wrong length) are bad rows, see
    :class:`BaseVideoTextDataset`.

    Args:
        ann_file: the jsonl, ``MSRVTT_data.json`` or the JSFusion csv.
        split_file: the csv of training video ids; required with, and only
            used with, ``MSRVTT_data.json``.
        video_ext: extension appended to the clip name.
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 split_file: Optional[str] = None,
                 video_ext: str = '.mp4',
                 **kwargs) -> None:
        self.split_file = split_file
        self.video_ext = video_ext
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        ext = osp.splitext(self.ann_file)[1].lower()
        if ext == '.jsonl':
            return self._load_jsonl()
        if ext == '.json':
            return self._load_msrvtt_data()
        if ext == '.csv':
            return self._load_jsfusion()
        raise AnnotationError(
            self.ann_file, None,
            f"unknown MSR-VTT annotation form '{ext}': expected ALPRO's "
            '.jsonl, the public MSRVTT_data.json (with split_file) or '
            'MSRVTT_JSFUSION_test.csv')

    def _sample(self,
                clip: object,
                text: object,
                line: Optional[int],
                unit: str = 'line') -> dict:
        if not isinstance(clip, str) or not clip.strip():
            raise BadRowError('empty or non-string clip name')
        if not isinstance(text, str) or not text.strip():
            raise BadRowError('empty or non-string caption')
        clip = clip.strip()
        return dict(
            video_id=clip,
            video_path=self.resolve_path(clip + self.video_ext, line, unit),
            text=text.strip())

    def _load_jsonl(self) -> List[dict]:

        def parse(line: int, text: str) -> dict:
            record = jsonl_record(text, ('caption', 'clip_name'))
            return self._sample(record['clip_name'], record['caption'], line)

        return self.collect_rows(jsonl_lines(self.ann_file), parse)

    def _read_split(self) -> Set[str]:
        if not self.split_file:
            raise AnnotationError(
                self.ann_file, None,
                'MSRVTT_data.json holds every video; set split_file to '
                'MSRVTT_train.7k.csv (ALPRO) or MSRVTT_train.9k.csv')
        with open(self.split_file, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            if 'video_id' not in (reader.fieldnames or ()):
                raise AnnotationError(self.split_file, 1,
                                      "header lacks 'video_id'")
            ids = set()
            for row in reader:
                video_id = (row['video_id'] or '').strip()
                if not video_id:
                    raise AnnotationError(self.split_file, reader.line_num,
                                          'empty video_id')
                ids.add(video_id)
        return ids

    def _load_msrvtt_data(self) -> List[dict]:
        wanted = self._read_split()
        data = load_json(self.ann_file)
        sentences = data.get('sentences') if isinstance(data, dict) else None
        if not isinstance(sentences, list):
            raise AnnotationError(
                self.ann_file, None,
                "expected MSRVTT_data.json: an object with a 'sentences' list")
        seen = set()

        def parse(index: int, sentence: object) -> dict:
            if not isinstance(sentence, dict) or not {'video_id', 'caption'
                                                      } <= set(sentence):
                raise BadRowError(
                    "expected an object with 'video_id' and 'caption'")
            seen.add(sentence['video_id'])
            return self._sample(sentence['video_id'], sentence['caption'],
                                index, 'sentence')

        # the split's sentences, and the malformed ones (of any video)
        rows = ((index, sentence) for index, sentence in enumerate(sentences)
                if not isinstance(sentence, dict)
                or not isinstance(sentence.get('video_id'), str)
                or sentence['video_id'] in wanted)
        data_list = self.collect_rows(rows, parse, 'sentence')
        missing = sorted(wanted - seen)
        if missing:
            raise AnnotationError(
                self.split_file, None,
                f'{len(missing)} videos have no sentence in {self.ann_file}, '
                f'e.g. {missing[:3]}; is it the matching MSRVTT_data.json?')
        return data_list

    def _load_jsfusion(self) -> List[dict]:
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            missing = set(JSFUSION_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise AnnotationError(
                    self.ann_file, 1,
                    f'header lacks {sorted(missing)}; expected '
                    'MSRVTT_JSFUSION_test.csv: key,vid_key,video_id,sentence')
            width = len(reader.fieldnames)

            def parse(line: int, row: dict) -> dict:
                if None in row or None in row.values():
                    raise BadRowError(f'expected {width} fields, got a row '
                                      'of another length')
                return self._sample(row['video_id'], row['sentence'], line)

            return self.collect_rows(
                ((reader.line_num, row) for row in reader), parse)
