"""Print a Markdown table of metric files written by
``tools/test.py --dump-metrics``.

Usage: python tools/misc/metrics_table.py NAME=FILE [NAME=FILE ...]
"""
import json
import sys
from typing import List


def table(entries: List[str]) -> str:
    """One row per ``NAME=FILE``: the file's metrics, rounded."""
    rows = ['| run | metrics |', '|---|---|']
    for entry in entries:
        name, path = entry.split('=', 1)
        with open(path) as f:
            metrics = json.load(f)
        shown = ', '.join(f'{k.split("/")[-1]} {v:.1f}'
                          for k, v in metrics.items()
                          if not k.endswith(('meanr', 'left_out')))
        rows.append(f'| {name} | {shown} |')
    return '\n'.join(rows)


if __name__ == '__main__':
    print(table(sys.argv[1:]))
