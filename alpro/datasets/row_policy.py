"""The one policy for annotation rows that cannot be used: skip, count, name,
bound."""
import logging
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

from mmengine.logging import MessageHub, print_log

from .errors import AnnotationError, BadRowError, SkipRow

__all__ = ['RowReport', 'parse_rows', 'left_out_row']

Raw = TypeVar('Raw')

#: rows named in full in a summary or an error; the rest are counted
SHOWN = 5
NEWLINE = '\n'


def left_out_row(where: str) -> dict:
    """The data-list entry that stands for a bad row at evaluation.

    ``BaseVideoTextDataset`` hands it on as a placeholder sample with a
    ``left_out`` meta field, which the metric counts.

    Args:
        where: ``'{file}, line N: problem'``.
    """
    return dict(left_out=where)


class RowReport:
    """What reading one annotation file found, row by row.

    Attributes:
        ann_file: the file.
        unit: what a row number counts ('line', 'row', 'record', ...).
        total: rows read.
        used: rows that gave a sample.
        entries: in file order, each a sample dict or, for a bad row (or
            one skipped with ``left_out_in_test``), the string
            ``'{file}, {unit} N: problem'``.
        bad: the bad rows as ``(N, problem)``.
        skipped: rule name -> row numbers left out by that rule.
    """

    def __init__(self, ann_file: str, unit: str = 'line') -> None:
        self.ann_file = ann_file
        self.unit = unit
        self.total = 0
        self.used = 0
        self.entries: List[object] = []
        self.bad: List[Tuple[int, str]] = []
        self.skipped: Dict[str, List[int]] = OrderedDict()

    def where(self, line: int) -> str:
        """``'{file}, {unit} N'``, as errors name a row."""
        return f'{self.ann_file}, {self.unit} {line}'

    @property
    def samples(self) -> List[dict]:
        """The usable rows' samples, in file order."""
        return [e for e in self.entries if isinstance(e, dict)]

    def bad_ratio(self) -> float:
        return len(self.bad) / self.total if self.total else 0.0

    def count(self, number: int) -> str:
        """``'1 line'``, ``'3 lines'``."""
        return f'{number} {self.unit}{"" if number == 1 else "s"}'

    def _listed(self, rows: List[Tuple[int, str]], indent: str) -> str:
        shown = [f'{self.where(line)}: {problem}' for line, problem in rows]
        text = indent + indent.join(shown[:SHOWN])
        if len(shown) > SHOWN:
            text += f'{indent}... and {len(shown) - SHOWN} more'
        return text

    def check(self, max_bad_ratio: float) -> None:
        """Refuse the file when more than ``max_bad_ratio`` of its rows are
        bad.

        Raises:
            AnnotationError: with the count and the first bad rows.
        """
        if self.bad_ratio() <= max_bad_ratio:
            return
        raise AnnotationError(
            self.ann_file, None,
            f'{len(self.bad)} of {self.count(self.total)} cannot be used '
            f'({100 * self.bad_ratio():.2f}%, more than '
            f'max_bad_row_ratio={max_bad_ratio}); fix them, or raise '
            'max_bad_row_ratio on the dataset to skip them. The first ones:'
            f'{self._listed(self.bad, NEWLINE + "  ")}')

    def summary(self, test_mode: bool) -> Optional[str]:
        """One message for the log: the bad rows (the first in full) and the
        rows each rule left out; None when every row was used."""
        if not self.bad and not self.skipped:
            return None
        lines = [
            f'{self.ann_file}: {self.count(self.total)} read, '
            f'{self.used} used'
        ]
        if self.bad:
            fate = ('left out of the evaluation (the metric counts them as '
                    'left_out)' if test_mode else 'skipped')
            lines.append(f'  bad: {self.count(len(self.bad))} {fate} '
                         f'({100 * self.bad_ratio():.2f}%):'
                         f'{self._listed(self.bad, NEWLINE + "    ")}')
        for reason, rows in self.skipped.items():
            shown = ', '.join(str(row) for row in rows[:SHOWN])
            more = (f' and {len(rows) - SHOWN} more'
                    if len(rows) > SHOWN else '')
            lines.append(f'  left out: {self.count(len(rows))}, {reason} '
                         f'({self.unit}s {shown}{more})')
        return '\n'.join(lines)

    def log(self, test_mode: bool) -> None:
        """Log :meth:`summary` once, at WARNING; in training, also record
        the bad rows as the scalar ``train/bad_rows`` (added to the other
        training files' count), as ``BadSampleHook`` records bad videos."""
        message = self.summary(test_mode)
        if message is None:
            return
        print_log(message, logger='current', level=logging.WARNING)
        if self.bad and not test_mode:
            hub = MessageHub.get_current_instance()
            before = hub.log_scalars.get('train/bad_rows')
            count = len(self.bad) + (before.current() if before else 0)
            hub.update_scalar('train/bad_rows', count)

    def data_list(self, test_mode: bool) -> List[dict]:
        """The samples; in test mode each bad row (and each row skipped with
        ``left_out_in_test``) stays, in its place, as a
        :func:`left_out_row` entry, so that the metric counts it."""
        if not test_mode:
            return self.samples
        return [
            e if isinstance(e, dict) else left_out_row(str(e))
            for e in self.entries
        ]


def parse_rows(ann_file: str,
               rows: Iterable[Tuple[int, Raw]],
               parse: Callable[[int, Raw], dict],
               unit: str = 'line') -> RowReport:
    """Parse each row, keeping the bad ones apart instead of failing.

    Args:
        ann_file: the file the rows come from, for the messages.
        rows: ``(N, raw row)`` in file order, N as a user finds the row
            (1-based line, 0-based record index, ...).
        parse: turns a raw row into a sample dict; raises
            :class:`BadRowError` for a row that cannot be used and
            :class:`SkipRow` for one a documented rule leaves out. Any other
            error (an :class:`AnnotationError` for a path escaping the
            media root, a header that is wrong) stops the reading.
        unit: what N counts.

    Returns:
        the :class:`RowReport`; apply the limit with :meth:`RowReport.check`.
    """
    report = RowReport(ann_file, unit)
    for line, raw in rows:
        report.total += 1
        try:
            report.entries.append(parse(line, raw))
            report.used += 1
        except BadRowError as error:
            report.bad.append((line, error.problem))
            report.entries.append(f'{report.where(line)}: {error.problem}')
        except SkipRow as skip:
            report.skipped.setdefault(skip.reason, []).append(line)
            if skip.left_out_in_test:
                report.entries.append(f'{report.where(line)}: {skip.reason}')
    return report
