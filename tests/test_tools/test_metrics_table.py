"""tools/misc/metrics_table.py renders files of tools/test.py
--dump-metrics."""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools/misc'))

import metrics_table  # noqa: E402


def test_one_row_per_run(tmp_path):
    first = tmp_path / 'a.json'
    first.write_text(
        json.dumps({
            'retrieval/t2v_r1': 20.8333,
            'retrieval/t2v_meanr': 5.3,
            'retrieval/left_out': 0
        }))
    second = tmp_path / 'b.json'
    second.write_text(json.dumps({'qa/acc': 61.25, 'qa/acc_what': 70.0}))
    lines = metrics_table.table([f'stage one={first}',
                                 f'qa={second}']).splitlines()
    assert lines[:2] == ['| run | metrics |', '|---|---|']
    assert lines[2] == '| stage one | t2v_r1 20.8 |'
    assert lines[3] == '| qa | acc 61.2, acc_what 70.0 |'
