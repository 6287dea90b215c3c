"""MSR-VTT text-to-video retrieval: ALPRO's jsonl and the public files."""
import csv
import os.path as osp
from typing import List, Optional, Set

from alpro.registry import DATASETS
from .base_video_text_dataset import (AnnotationError, BaseVideoTextDataset,
                                      iter_jsonl, load_json)

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
    (``{data_prefix.video}/{clip}{video_ext}``) and ``text``.

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
            raise AnnotationError(self.ann_file, line,
                                  'empty or non-string clip name', unit)
        if not isinstance(text, str) or not text.strip():
            raise AnnotationError(self.ann_file, line,
                                  'empty or non-string caption', unit)
        clip = clip.strip()
        return dict(
            video_id=clip,
            video_path=self.resolve_path(clip + self.video_ext, line, unit),
            text=text.strip())

    def _load_jsonl(self) -> List[dict]:
        return [
            self._sample(record['clip_name'], record['caption'], line)
            for line, record in iter_jsonl(self.ann_file, ('caption',
                                                           'clip_name'))
        ]

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
        data_list, seen = [], set()
        for index, sentence in enumerate(sentences):
            if not isinstance(sentence, dict) or not {'video_id', 'caption'
                                                      } <= set(sentence):
                raise AnnotationError(
                    self.ann_file, index,
                    "expected an object with 'video_id' and 'caption'",
                    'sentence')
            if sentence['video_id'] in wanted:
                seen.add(sentence['video_id'])
                data_list.append(
                    self._sample(sentence['video_id'], sentence['caption'],
                                 index, 'sentence'))
        missing = sorted(wanted - seen)
        if missing:
            raise AnnotationError(
                self.split_file, None,
                f'{len(missing)} videos have no sentence in {self.ann_file}, '
                f'e.g. {missing[:3]}; is it the matching MSRVTT_data.json?')
        return data_list

    def _load_jsfusion(self) -> List[dict]:
        data_list = []
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            missing = set(JSFUSION_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise AnnotationError(
                    self.ann_file, 1,
                    f'header lacks {sorted(missing)}; expected '
                    'MSRVTT_JSFUSION_test.csv: key,vid_key,video_id,sentence')
            for row in reader:
                if None in row or None in row.values():
                    raise AnnotationError(
                        self.ann_file, reader.line_num,
                        f'expected {len(reader.fieldnames)} fields, got a '
                        'row of another length')
                data_list.append(
                    self._sample(row['video_id'], row['sentence'],
                                 reader.line_num))
        return data_list
