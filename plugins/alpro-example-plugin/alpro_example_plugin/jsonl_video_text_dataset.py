"""Video-caption pairs in JSON Lines, one ``{"video", "caption"}`` a line."""
import json
from typing import List

from alpro.datasets import AnnotationError, BaseVideoTextDataset
from alpro.registry import DATASETS


@DATASETS.register_module()
class JsonlVideoTextDataset(BaseVideoTextDataset):
    """``{"video": "rel/path.mp4", "caption": "..."}`` per line, the video
    under ``data_prefix.video``. Bad samples and path checks behave as in
    every alpro dataset (see ``BaseVideoTextDataset``)."""

    def load_data_list(self) -> List[dict]:
        data_list = []
        with open(self.ann_file, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    video, caption = record['video'], record['caption']
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise AnnotationError(
                        self.ann_file, line_no,
                        f'expected {{"video": ..., "caption": ...}}: {error}'
                    ) from None
                data_list.append(
                    dict(
                        video_id=video,
                        video_path=self.resolve_path(video, line_no),
                        text=caption))
        return data_list
