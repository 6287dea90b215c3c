"""Shared by every video-text dataset: annotation readers, checked paths,
the bad-row and bad-sample policies."""
import json
import os.path as osp
from typing import (Callable, Iterable, Iterator, List, Optional, Sequence,
                    Tuple, TypeVar, Union)

import numpy as np
from mmengine.dataset import BaseDataset

from alpro.registry import TRANSFORMS
from alpro.structures import VideoTextDataSample
from .errors import AnnotationError, BadRowError, BadSampleError
from .row_policy import RowReport, parse_rows

__all__ = [
    'BaseVideoTextDataset', 'AnnotationError', 'jsonl_lines', 'jsonl_record',
    'load_json'
]

Raw = TypeVar('Raw')


def load_json(ann_file: str) -> object:
    """The decoded content of a JSON file.

    Raises:
        AnnotationError: it is not valid JSON (with the line of the error).
    """
    with open(ann_file, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise AnnotationError(ann_file, error.lineno,
                                  f'not valid JSON ({error.msg})') from None


def jsonl_lines(ann_file: str) -> Iterator[Tuple[int, str]]:
    """Yield ``(line, text)`` for each non-blank line of a JSON-lines file,
    lines counted from 1."""
    with open(ann_file, encoding='utf-8') as f:
        for line, text in enumerate(f, 1):
            if text.strip():
                yield line, text


def jsonl_record(text: str, keys: Sequence[str]) -> dict:
    """Decode one line of a JSON-lines file.

    Args:
        text: the line.
        keys: keys the record must have.

    Raises:
        BadRowError: the line is not JSON, not an object, or lacks a key.
    """
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRowError(f'not valid JSON ({error.msg})') from None
    if not isinstance(record, dict):
        raise BadRowError(
            f'expected a JSON object, got {type(record).__name__}')
    missing = [key for key in keys if key not in record]
    if missing:
        raise BadRowError(f'missing {missing}; expected the keys {list(keys)}')
    return record


class BaseVideoTextDataset(BaseDataset):
    """Base of the video-text datasets.

    Subclasses implement :meth:`load_data_list`, returning one dict per
    sample with at least ``text`` and either ``video_path`` or ``img_path``
    (already joined with the data prefix and checked by
    :meth:`resolve_path`); they read rows through :meth:`collect_rows`.

    Bad rows (a row of the annotation that cannot be used: an empty caption,
    question or id, a wrong field count, a line that is not JSON), one
    policy for every dataset, applied once when the annotation is parsed:

    * the rows are counted and named (file and line, the first few in full)
      in one WARNING summary;
    * in training they are skipped, and their count is recorded as the
      scalar ``train/bad_rows``;
    * in validation and test nothing is skipped silently: each bad row stays
      in its place as a placeholder with a ``left_out`` meta field, which the
      metric counts (as for bad videos with ``skip_bad=True``);
    * a file whose bad rows exceed ``max_bad_row_ratio`` of its rows is
      refused, the error giving the count and the first rows.

    Rows a documented rule leaves out (WebVid's empty ``page_dir``, ALPRO's
    ``txt_len`` bound, CC-3M images never downloaded, QA answers outside
    the vocabulary in training) are counted in the same summary, by rule.

    A media path is checked as the annotation writes it: absolute paths and
    ``..`` above the root are refused (the whole file, as a sign of a wrong
    or hostile annotation); where a file under the root links to is not
    looked at, so a root of per-file symlinks into a shared store works.

    Bad samples (a :class:`BadSampleError` raised by the pipeline: a missing,
    empty, truncated or undecodable file, or no frames):

    * in training (``test_mode=False``) the sample is replaced by another one
      chosen deterministically from ``(replace_seed, index, attempt)``; the
      replacement's data sample lists the bad paths in its ``replaced``
      meta field, which :class:`~alpro.engine.hooks.BadSampleHook` counts,
      logs and checks against ``max_bad_ratio``;
    * in validation and test a sample is never replaced (that would corrupt
      the metric): the error stops the run, naming the file, unless
      ``skip_bad=True``; then the sample comes back as a placeholder with
      ``inputs=None`` and a ``left_out`` meta field, which the data
      preprocessor drops and the metric counts.

    Args:
        ann_file: annotation file.
        data_prefix: ``dict(video=ROOT)`` (or ``img=ROOT``); every media path
            must stay inside its root.
        pipeline: transforms (dicts are built from alpro's ``TRANSFORMS``).
        test_mode: validation/test behaviour, see above.
        skip_bad: in test mode, leave bad samples out instead of stopping.
        replace_seed: seed of the replacement choice in training.
        max_refetch: replacements tried for one index before giving up.
        max_bad_row_ratio: the largest fraction of bad rows a file may have
            (default 1%); more and the file is refused.
        **kwargs: passed on to :class:`mmengine.dataset.BaseDataset`.
    """

    #: the key of ``data_prefix`` that roots this dataset's media.
    media_key = 'video'

    def __init__(self,
                 ann_file: str,
                 data_prefix: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 skip_bad: bool = False,
                 replace_seed: int = 0,
                 max_refetch: int = 10,
                 max_bad_row_ratio: float = 0.01,
                 **kwargs) -> None:
        if not 0 <= max_bad_row_ratio <= 1:
            raise ValueError('max_bad_row_ratio must lie in [0, 1], got '
                             f'{max_bad_row_ratio}')
        self.skip_bad = skip_bad
        self.replace_seed = replace_seed
        self.max_bad_row_ratio = max_bad_row_ratio
        self.row_reports: List[RowReport] = []
        self._root_prefix: Optional[str] = None
        pipeline = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
        ]
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix or {self.media_key: ''},
            pipeline=pipeline,
            test_mode=test_mode,
            max_refetch=max_refetch,
            **kwargs)

    @property
    def media_root(self) -> str:
        """The folder that every media path must stay inside ('' = none)."""
        return self.data_prefix.get(self.media_key, '') or ''

    def full_init(self) -> None:
        if not self._fully_initialized and self.ann_file and not osp.isfile(
                self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {self.ann_file} not '
                'found. For the demo corpus run `python '
                'tools/data/make_demo_data.py --out data/demo`; otherwise '
                'point ann_file in the config at your copy.')
        super().full_init()

    def collect_rows(self,
                     rows: Iterable[Tuple[int, Raw]],
                     parse: Callable[[int, Raw], dict],
                     unit: str = 'line',
                     ann_file: Optional[str] = None) -> List[dict]:
        """Parse the rows of an annotation under the bad-row policy (see the
        class docstring).

        Args:
            rows: ``(N, raw row)`` in file order.
            parse: raw row to sample dict; raises
                :class:`~alpro.datasets.BadRowError` for a bad row and
                :class:`~alpro.datasets.SkipRow` for a row a rule leaves out.
            unit: what N counts ('line', 'row', 'record', ...).
            ann_file: the file, when it is not ``self.ann_file``.

        Returns:
            the data list; in test mode bad rows stay as placeholders.

        Raises:
            AnnotationError: more than ``max_bad_row_ratio`` of the rows are
                bad.
        """
        report = parse_rows(ann_file or self.ann_file, rows, parse, unit)
        report.check(self.max_bad_row_ratio)
        report.log(self.test_mode)
        data_list = report.data_list(self.test_mode)
        # the samples live in the data list only (serialised and shared by
        # the workers); the report keeps the counts and the bad rows
        report.entries = []
        self.row_reports.append(report)
        return data_list

    def resolve_path(self,
                     relative: str,
                     line: Optional[int],
                     unit: str = 'line') -> str:
        """Join ``relative`` to the media root, refusing an escape from it.

        The path is judged as written: absolute, or with ``..`` above the
        root after normalising, is an escape; symlinks are not followed
        (a root of per-file links into a shared store is fine) and nothing
        touches the file system, so the check costs about a string join.

        Args:
            relative: a media path as written in the annotation.
            line: its line (or row) in the annotation file, for the error.
            unit: 'line' or 'row', for the error.

        Returns:
            str: the joined, normalised path.

        Raises:
            AnnotationError: the path escapes the root.
        """
        prefix = self._root_prefix
        if prefix is None:  # data_prefix is final once BaseDataset joined it
            root = self.media_root
            prefix = self._root_prefix = (
                osp.join(osp.normpath(root), '') if root else '')
        if not prefix:
            return relative
        normal = relative
        # only a path with '.', '..' or doubled separators needs normpath
        if '..' in normal or './' in normal or '//' in normal:
            normal = osp.normpath(normal)
        if normal.startswith('/') or normal == '..' or normal.startswith(
                '../'):
            raise AnnotationError(
                self.ann_file, line,
                f"media path '{relative}' escapes data_prefix "
                f"'{self.media_root}'; refusing to read outside it", unit)
        return prefix + normal

    def _replacement(self, idx: int, attempt: int) -> int:
        rng = np.random.default_rng([self.replace_seed, idx, attempt])
        return int(rng.integers(len(self)))

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        replaced: List[str] = []
        for attempt in range(self.max_refetch + 1):
            data_info = self.get_data_info(idx)
            if 'left_out' in data_info:  # a bad row, in test mode
                return self._placeholder(data_info)
            data_info['replaced'] = list(replaced)
            try:
                return self.pipeline(data_info)
            except BadSampleError as error:
                if self.test_mode:
                    return self._bad_in_test(data_info, error)
                error.log('replaced by another sample')
                replaced.append(error.path)
                idx = self._replacement(idx, attempt)
        raise RuntimeError(
            f'{type(self).__name__}: {len(replaced)} bad samples in a row, '
            f'giving up: {replaced}. Check the files under '
            f"'{self.media_root}'.")

    @staticmethod
    def _placeholder(data_info: dict) -> dict:
        """A left-out sample: no inputs, the reason in ``left_out``."""
        sample = VideoTextDataSample(
            metainfo=dict(
                sample_idx=data_info['sample_idx'],
                left_out=data_info['left_out']))
        return dict(inputs=None, data_samples=sample)

    def _bad_in_test(self, data_info: dict, error: BadSampleError) -> dict:
        if not self.skip_bad:
            raise RuntimeError(
                f'{type(self).__name__} (test mode): cannot use {error.path}: '
                f'{error.reason}. A sample is never replaced at evaluation; '
                'fix or remove the file, or set skip_bad=True on the dataset '
                'to leave it out (the metric reports how many were).'
            ) from error
        error.log('left out of the evaluation')
        return self._placeholder(dict(data_info, left_out=error.path))
