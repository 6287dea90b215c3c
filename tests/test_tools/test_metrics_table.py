"""tools/misc/metrics_table.py renders files of tools/test.py
--dump-metrics as the table README.md shows."""
import json
import re
from pathlib import Path

import pytest

from tests.tool_modules import load_tool

REPO = Path(__file__).resolve().parents[2]
metrics_table = load_tool('tools/misc/metrics_table.py')


def readme_table() -> list:
    """The demo's table in README.md: its header and rule, then rows."""
    text = (REPO / 'README.md').read_text()
    start = text.index('| run | t2v R@1 ')
    return re.match(r'((?:\|.*\|\n)+)', text[start:]).group(1).splitlines()


def test_the_readme_table_from_the_demo_metric_files(tmp_path):
    readme = readme_table()
    runs = []
    for line in readme[2:]:
        name, *cells = [c.strip() for c in line.strip('|').split('|')]
        r1, r5, r10, acc = (float(c) if c else None for c in cells)
        metrics = ({
            'qa/acc': acc,
            'qa/acc_what': 12.0
        } if acc is not None else {
            'retrieval/t2v_r1': r1,
            'retrieval/t2v_r5': r5,
            'retrieval/t2v_r10': r10,
            'retrieval/t2v_meanr': 5.3,
            'retrieval/v2t_r1': 1.0,
            'retrieval/left_out': 0
        })
        path = tmp_path / f'{len(runs)}.json'
        path.write_text(json.dumps(metrics))
        runs.append(f'{name}={path}')
    assert metrics_table.table(runs).splitlines() == readme


def test_rounding_and_any_prefix(tmp_path):
    path = tmp_path / 'a.json'
    path.write_text(json.dumps({'val/t2v_r1': 20.8333, 'val/t2v_r5': 50.06}))
    lines = metrics_table.table([f'stage one={path}']).splitlines()
    assert lines[2] == '| stage one | 20.8 | 50.1 | | |'


def test_a_file_without_the_metrics_is_named(tmp_path):
    path = tmp_path / 'b.json'
    path.write_text(json.dumps({'loss': 1.0}))
    with pytest.raises(ValueError, match='b.json has none of the metrics'):
        metrics_table.table([f'run={path}'])


def test_demo_ends_with_the_readme_rows():
    demo = (REPO / 'tools/demo.sh').read_text()
    table_call = demo[demo.index('tools/misc/metrics_table.py'):]
    names = re.findall(r'"([^"=]+)=\$W/', table_call)
    assert names == [line.split('|')[1].strip() for line in readme_table()[2:]]
