"""DiDeMo paragraph-to-video retrieval in ALPRO's jsonl form."""
from typing import List

from alpro.registry import DATASETS
from .base_video_text_dataset import (BaseVideoTextDataset, jsonl_lines,
                                      jsonl_record)
from .errors import BadRowError

__all__ = ['DiDeMoRetrievalDataset']


@DATASETS.register_module()
class DiDeMoRetrievalDataset(BaseVideoTextDataset):
    """DiDeMo for paragraph-to-video retrieval, as ALPRO evaluates it.

    The annotation is ALPRO's ``didemo_ret/txt/{train,val,test}.jsonl``: one
    video per line, ``{"caption": paragraph, "clip_name": str}``, where the
    paragraph is a string or a list of sentences (joined with single spaces
    into one query). The video is ``{data_prefix.video}/{clip_name}{ext}``
    (the release converts DiDeMo's videos to ``.mp4``). Lines that cannot
    be used are bad rows, see :class:`BaseVideoTextDataset`.

    Args:
        ann_file: the jsonl.
        video_ext: extension appended to the clip name.
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 video_ext: str = '.mp4',
                 **kwargs) -> None:
        self.video_ext = video_ext
        super().__init__(ann_file=ann_file, **kwargs)

    @staticmethod
    def _paragraph(caption: object) -> str:
        if isinstance(caption, list):
            if not all(isinstance(s, str) for s in caption):
                raise BadRowError('caption list holds a non-string')
            caption = ' '.join(s.strip() for s in caption if s.strip())
        if not isinstance(caption, str) or not caption.strip():
            raise BadRowError(
                'caption must be a non-empty string or list of sentences')
        return caption.strip()

    def load_data_list(self) -> List[dict]:

        def parse(line: int, text: str) -> dict:
            record = jsonl_record(text, ('caption', 'clip_name'))
            clip = record['clip_name']
            if not isinstance(clip, str) or not clip.strip():
                raise BadRowError('empty or non-string clip_name')
            clip = clip.strip()
            return dict(
                video_id=clip,
                video_path=self.resolve_path(clip + self.video_ext, line),
                text=self._paragraph(record['caption']))

        return self.collect_rows(jsonl_lines(self.ann_file), parse)
