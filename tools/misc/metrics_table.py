"""Print the Markdown table of test metrics that README.md shows, from
files written by ``tools/test.py --dump-metrics``.

Usage: python tools/misc/metrics_table.py NAME=FILE [NAME=FILE ...]

One row per run, in the order given; columns t2v R@1/5/10 (retrieval) and
QA accuracy, each rounded to one decimal, empty where a run has no such
metric (any metric prefix: ``retrieval/t2v_r1``, ``qa/acc``, ...).
"""
import json
import sys
from typing import Dict, List, Optional

#: (column title, metric name after its prefix)
COLUMNS = (('t2v R@1', 't2v_r1'), ('t2v R@5', 't2v_r5'),
           ('t2v R@10', 't2v_r10'), ('QA acc', 'acc'))


def _row(cells: List[str]) -> str:
    """A Markdown row; an empty cell is written ``| |``."""
    return '|' + '|'.join(f' {cell} ' if cell else ' ' for cell in cells) + '|'


def _value(metrics: Dict[str, float], name: str) -> Optional[float]:
    for key, value in metrics.items():
        if key.split('/')[-1] == name:
            return value
    return None


def table(entries: List[str]) -> str:
    """The table of ``NAME=FILE`` entries.

    Raises:
        ValueError: an entry without ``=``, or a file with none of the
            columns' metrics.
    """
    lines = [
        _row(['run', *(title for title, _ in COLUMNS)]),
        '|' + '---|' * (1 + len(COLUMNS))
    ]
    for entry in entries:
        name, sep, path = entry.partition('=')
        if not sep:
            raise ValueError(f'{entry!r} is not NAME=FILE')
        with open(path) as f:
            metrics = json.load(f)
        values = [_value(metrics, metric) for _, metric in COLUMNS]
        if all(v is None for v in values):
            raise ValueError(
                f'{path} has none of the metrics of the table '
                f'({", ".join(m for _, m in COLUMNS)}): {sorted(metrics)}')
        lines.append(
            _row([name, *('' if v is None else f'{v:.1f}' for v in values)]))
    return '\n'.join(lines)


if __name__ == '__main__':
    print(table(sys.argv[1:]))
