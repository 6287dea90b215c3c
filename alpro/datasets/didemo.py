"""DiDeMo paragraph-to-video retrieval in ALPRO's jsonl form."""
from typing import List

from alpro.registry import DATASETS
from .base_video_text_dataset import (AnnotationError, BaseVideoTextDataset,
                                      iter_jsonl)

__all__ = ['DiDeMoRetrievalDataset']


@DATASETS.register_module()
class DiDeMoRetrievalDataset(BaseVideoTextDataset):
    """DiDeMo for paragraph-to-video retrieval, as ALPRO evaluates it.

    The annotation is ALPRO's ``didemo_ret/txt/{train,val,test}.jsonl``: one
    video per line, ``{"caption": paragraph, "clip_name": str}``, where the
    paragraph is a string or a list of sentences (joined with single spaces
    into one query). The video is ``{data_prefix.video}/{clip_name}{ext}``
    (the release converts DiDeMo's videos to ``.mp4``).

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

    def _paragraph(self, caption: object, line: int) -> str:
        if isinstance(caption, list):
            if not all(isinstance(s, str) for s in caption):
                raise AnnotationError(self.ann_file, line,
                                      'caption list holds a non-string')
            caption = ' '.join(s.strip() for s in caption if s.strip())
        if not isinstance(caption, str) or not caption.strip():
            raise AnnotationError(
                self.ann_file, line,
                'caption must be a non-empty string or list of sentences')
        return caption.strip()

    def load_data_list(self) -> List[dict]:
        data_list = []
        for line, record in iter_jsonl(self.ann_file,
                                       ('caption', 'clip_name')):
            clip = record['clip_name']
            if not isinstance(clip, str) or not clip.strip():
                raise AnnotationError(self.ann_file, line,
                                      'empty or non-string clip_name')
            clip = clip.strip()
            data_list.append(
                dict(
                    video_id=clip,
                    video_path=self.resolve_path(clip + self.video_ext, line),
                    text=self._paragraph(record['caption'], line)))
        return data_list
