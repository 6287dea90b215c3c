"""Shared by every video-text dataset: annotation readers, checked paths,
bad-sample policy."""
import json
import logging
import os.path as osp
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from alpro.registry import TRANSFORMS
from alpro.structures import VideoTextDataSample
from .errors import BadSampleError

__all__ = [
    'BaseVideoTextDataset', 'AnnotationError', 'iter_jsonl', 'load_json'
]


class AnnotationError(ValueError):
    """An annotation file is malformed; the message names file and line."""

    def __init__(self,
                 ann_file: str,
                 line: Optional[int],
                 problem: str,
                 unit: str = 'line') -> None:
        where = ann_file if line is None else f'{ann_file}, {unit} {line}'
        super().__init__(f'{where}: {problem}')


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


def iter_jsonl(ann_file: str,
               keys: Sequence[str]) -> Iterator[Tuple[int, dict]]:
    """Yield ``(line, record)`` for each non-blank line of a JSON-lines file.

    Args:
        ann_file: the ``.jsonl`` file.
        keys: keys every record must have.

    Yields:
        the 1-based line number and the decoded object.

    Raises:
        AnnotationError: a line is not JSON, not an object, or lacks a key.
    """
    with open(ann_file, encoding='utf-8') as f:
        for line, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise AnnotationError(
                    ann_file, line, f'not valid JSON ({error.msg})') from None
            if not isinstance(record, dict):
                raise AnnotationError(
                    ann_file, line,
                    f'expected a JSON object, got {type(record).__name__}')
            missing = [key for key in keys if key not in record]
            if missing:
                raise AnnotationError(
                    ann_file, line, f'missing {missing}; expected the keys '
                    f'{list(keys)}')
            yield line, record


class BaseVideoTextDataset(BaseDataset):
    """Base of the video-text datasets.

    Subclasses implement :meth:`load_data_list`, returning one dict per
    sample with at least ``text`` and either ``video_path`` or ``img_path``
    (already joined with the data prefix and checked by
    :meth:`resolve_path`).

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
            must resolve inside its root.
        pipeline: transforms (dicts are built from alpro's ``TRANSFORMS``).
        test_mode: validation/test behaviour, see above.
        skip_bad: in test mode, leave bad samples out instead of stopping.
        replace_seed: seed of the replacement choice in training.
        max_refetch: replacements tried for one index before giving up.
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
                 **kwargs) -> None:
        self.skip_bad = skip_bad
        self.replace_seed = replace_seed
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

    def resolve_path(self,
                     relative: str,
                     line: Optional[int],
                     unit: str = 'line') -> str:
        """Join ``relative`` to the media root, refusing an escape from it.

        Args:
            relative: a media path as written in the annotation.
            line: its line (or row) in the annotation file, for the error.
            unit: 'line' or 'row', for the error.

        Returns:
            str: the joined, normalised path.
        """
        root = self.media_root
        if not root:
            return relative
        path = osp.normpath(osp.join(root, relative))
        real_root = osp.realpath(root)
        if osp.commonpath([osp.realpath(path), real_root]) != real_root:
            raise AnnotationError(
                self.ann_file, line,
                f"media path '{relative}' escapes data_prefix "
                f"'{root}'; refusing to read outside it", unit)
        return path

    def _replacement(self, idx: int, attempt: int) -> int:
        rng = np.random.default_rng([self.replace_seed, idx, attempt])
        return int(rng.integers(len(self)))

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        replaced: List[str] = []
        for attempt in range(self.max_refetch + 1):
            data_info = self.get_data_info(idx)
            data_info['replaced'] = list(replaced)
            try:
                return self.pipeline(data_info)
            except BadSampleError as error:
                if self.test_mode:
                    return self._bad_in_test(data_info, error)
                print_log(
                    f'bad sample {error.path} ({error.reason}); replaced by '
                    'another sample',
                    logger='current',
                    level=logging.WARNING)
                replaced.append(error.path)
                idx = self._replacement(idx, attempt)
        raise RuntimeError(
            f'{type(self).__name__}: {len(replaced)} bad samples in a row, '
            f'giving up: {replaced}. Check the files under '
            f"'{self.media_root}'.")

    def _bad_in_test(self, data_info: dict, error: BadSampleError) -> dict:
        if not self.skip_bad:
            raise RuntimeError(
                f'{type(self).__name__} (test mode): cannot use {error.path}: '
                f'{error.reason}. A sample is never replaced at evaluation; '
                'fix or remove the file, or set skip_bad=True on the dataset '
                'to leave it out (the metric reports how many were).'
            ) from error
        print_log(
            f'bad sample {error.path} ({error.reason}); left out of the '
            'evaluation',
            logger='current',
            level=logging.WARNING)
        sample = VideoTextDataSample(
            metainfo=dict(
                sample_idx=data_info['sample_idx'], left_out=error.path))
        return dict(inputs=None, data_samples=sample)
