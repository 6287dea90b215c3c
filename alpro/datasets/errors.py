"""The errors of the datasets: a malformed annotation, an unusable row, a bad
video or image."""
import logging
from typing import Optional

from mmengine.logging import print_log

__all__ = ['AnnotationError', 'BadRowError', 'SkipRow', 'BadSampleError']


class AnnotationError(ValueError):
    """An annotation file cannot be used; the message names file and line.

    Args:
        ann_file: the annotation file.
        line: the line (or row, record) at fault; None for the whole file.
        problem: what is wrong, and what to do about it.
        unit: what ``line`` counts: 'line', 'row', 'record', ...
    """

    def __init__(self,
                 ann_file: str,
                 line: Optional[int],
                 problem: str,
                 unit: str = 'line') -> None:
        where = ann_file if line is None else f'{ann_file}, {unit} {line}'
        super().__init__(f'{where}: {problem}')


class BadRowError(ValueError):
    """One row of an annotation cannot be used (an empty caption, a wrong
    field count, ...).

    Raised by a dataset's row parser; :func:`~alpro.datasets.parse_rows`
    catches it and counts the row, so that one bad row does not cost the
    whole file (see ``max_bad_row_ratio`` of
    :class:`~alpro.datasets.BaseVideoTextDataset`).

    Args:
        problem: what is wrong with the row.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class SkipRow(Exception):
    """A row that a documented rule leaves out (WebVid's empty ``page_dir``,
    ALPRO's ``txt_len`` bound, an image that was never downloaded, ...);
    counted by reason, never bounded.

    Args:
        reason: the rule, as the start-up summary names it.
        left_out_in_test: at evaluation, keep the row as a left-out
            placeholder that the metric counts (for a row that belongs to
            the benchmark but cannot be scored), instead of leaving it out.
    """

    def __init__(self, reason: str, left_out_in_test: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.left_out_in_test = left_out_in_test


class BadSampleError(Exception):
    """A video or image is missing, empty, truncated, undecodable or too
    short to use.

    Args:
        path: the file at fault.
        reason: what is wrong with it, for the log.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: {reason}')
        self.path = path
        self.reason = reason

    def log(self, outcome: str) -> None:
        """Log the bad sample and what became of it (a WARNING, in the
        words every dataset uses): ``bad sample PATH (REASON); OUTCOME``."""
        print_log(
            f'bad sample {self.path} ({self.reason}); {outcome}',
            logger='current',
            level=logging.WARNING)
