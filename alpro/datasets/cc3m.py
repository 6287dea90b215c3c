"""Conceptual Captions (CC-3M) image-caption pairs, as T-frame clips."""
import csv
import os.path as osp
import string
from typing import List, Optional, Tuple

from alpro.registry import DATASETS
from .base_video_text_dataset import BaseVideoTextDataset, load_json
from .cc3m_images import ImageNames, find_image_names, url_crc
from .errors import AnnotationError, BadRowError, SkipRow
from .transforms.random_transform import RandomTransform

__all__ = ['CC3MDataset']

#: the fields an ``image_name`` template may use
NAME_FIELDS = ('index', 'crc')
#: the first row img2dataset needs in a TSV (Google's file has none)
TSV_HEADER = ['caption', 'url']


def _captions(record: object) -> List[str]:
    """The stripped captions of an ALPRO record.

    Raises:
        BadRowError: the record is malformed.
    """
    captions = record.get('caption') if isinstance(record, dict) else None
    if isinstance(captions, str):
        captions = [captions]
    if (not isinstance(record, dict)
            or not isinstance(record.get('image'), str) or not record['image']
            or not isinstance(captions, list) or not captions
            or not all(isinstance(c, str) and c.strip() for c in captions)):
        raise BadRowError(
            'expected {"image": path, "caption": str or [str, ...]} with '
            f'non-empty captions, got {str(record)[:120]}')
    return [c.strip() for c in captions]


@DATASETS.register_module()
class CC3MDataset(BaseVideoTextDataset, RandomTransform):
    """CC-3M for pre-training beside WebVid (pair it with
    ``LoadImageAsClip`` in the pipeline).

    Two annotation forms, told apart by the file's extension:

    * ``.json``: ALPRO's release (``cc3m.json``), a list of
      ``{"image": path, "caption": str or [str, ...]}``; the path is taken as
      given, or under ``data_prefix.img`` when that is set. A caption list
      gives one caption per draw: a random one in training, the first in
      test mode. A missing image is a bad sample, as a bad video is.
    * ``.tsv``: Google's ``Train_GCC-training.tsv``, ``caption<TAB>url``
      without a header (a ``caption<TAB>url`` header line, which img2dataset
      needs, is skipped). Row ``i`` counts data rows from 0. Its image is
      found under ``data_prefix.img`` as the downloader named it:

      - ``image_name='auto'`` (default) looks at the folder once and
        recognises the row index with any padding (``12.jpg``,
        ``000012.jpg``), ``{index}_{crc32(url)}`` with or without an
        extension (the LAVIS / ClipCap download scripts; the crc must match
        the row's url) and img2dataset's ``{shard:05d}/{key}.jpg`` (its
        ``{key}.json`` sidecars confirm that key and row agree; set
        ``rows_per_shard`` to its ``number_sample_per_shard`` when that was
        not 10000);
      - a template such as ``'{index:06d}.jpg'`` or ``'{index}_{crc}.jpg'``
        (fields ``index`` and ``crc``, the unsigned crc32 of the url) names
        the file itself.

      A row whose image is not there (never downloaded) is left out in
      training and counted in the start-up summary; at evaluation it stays
      as a left-out placeholder that the metric counts.

    Rows that cannot be used (an empty caption or url, a wrong field count,
    a malformed record) are bad rows, see :class:`BaseVideoTextDataset`.

    Args:
        ann_file: the JSON or TSV file.
        image_name: ``'auto'`` or a file name template for TSV rows.
        rows_per_shard: img2dataset's ``number_sample_per_shard``.
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    media_key = 'img'

    def __init__(self,
                 ann_file: str,
                 image_name: str = 'auto',
                 rows_per_shard: int = 10000,
                 **kwargs) -> None:
        if image_name != 'auto':
            fields = {
                field
                for _, field, _, _ in string.Formatter().parse(image_name)
                if field is not None
            }
            unknown = fields - set(NAME_FIELDS)
            if unknown or not fields:
                raise ValueError(
                    f"CC3MDataset: image_name '{image_name}' must use the "
                    f'fields {list(NAME_FIELDS)} only (and at least one), '
                    f"got {sorted(fields)}; or set image_name='auto'")
        if rows_per_shard < 1:
            raise ValueError(
                f'rows_per_shard must be >= 1, got {rows_per_shard}')
        self.image_name = image_name
        self.rows_per_shard = rows_per_shard
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

        def parse(index: int, record: object) -> dict:
            captions = _captions(record)
            return dict(
                video_id=record['image'],
                img_path=self.resolve_path(record['image'], index, 'record'),
                captions=captions)

        return self.collect_rows(enumerate(records), parse, 'record')

    def _image_names(self, urls: List[str]) -> Optional[ImageNames]:
        """How rows name their images under the root (None without one)."""
        root = self.media_root
        if not root:
            if self.image_name == 'auto' and len(self.pipeline.transforms):
                raise AnnotationError(
                    self.ann_file, None,
                    'the TSV form finds its images under data_prefix='
                    "dict(img=FOLDER); set it (image_name='auto' looks at "
                    'the folder to tell how the downloader named them)')
            return None
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'CC3MDataset: image folder {root} not found (data_prefix.img'
                f' of {self.ann_file}); download the images there first')
        return find_image_names(root, urls, self.image_name,
                                self.rows_per_shard, self.ann_file)

    def _load_tsv(self) -> List[dict]:
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.reader(f, delimiter='\t', quoting=csv.QUOTE_NONE)
            rows = [(reader.line_num, row) for row in reader]
        if rows and [c.strip().lower() for c in rows[0][1]] == TSV_HEADER:
            rows = rows[1:]
        urls = [row[1].strip() if len(row) == 2 else '' for _, row in rows]
        names = self._image_names(urls)

        def parse(line: int, indexed_row: Tuple[int, List[str]]) -> dict:
            index, row = indexed_row
            if len(row) != 2:
                raise BadRowError(
                    f'expected caption<TAB>url, got {len(row)} fields')
            caption, url = row[0].strip(), row[1].strip()
            if not caption:
                raise BadRowError('empty caption')
            if not url:
                raise BadRowError('empty url')
            if names is None:  # no root: nothing to look at or join
                name = (
                    str(index) if self.image_name == 'auto' else
                    self.image_name.format(index=index, crc=url_crc(url)))
                return dict(video_id=name, img_path=name, captions=[caption])
            name = names.name(index, url)
            if name is None:
                raise SkipRow(
                    f"image not downloaded (none under '{self.media_root}' "
                    f'named as {names.layout})',
                    left_out_in_test=True)
            return dict(
                video_id=name,
                img_path=self.resolve_path(name, line),
                captions=[caption])

        return self.collect_rows(
            ((line, (index, row)) for index, (line, row) in enumerate(rows)),
            parse)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        captions = info.pop('captions', None)
        if captions is not None:  # None: a left-out placeholder
            # in training a random caption, drawn as the random transforms
            # draw (a function of seed, epoch, rank and index once a
            # SeededSampler binds the dataset: resume stays exact)
            pick = 0 if self.test_mode else int(
                self.rng(info).integers(len(captions)))
            info['text'] = captions[pick]
        return info
