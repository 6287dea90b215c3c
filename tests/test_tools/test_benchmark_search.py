"""benchmark_search.py on a small gallery: every index kind measured, FAISS
flat agrees with exact search, the JSON holds what the table prints."""
import json

from tests.tool_modules import load_tool

benchmark_search = load_tool('tools/analysis/benchmark_search.py')


def test_small_gallery_rows(tmp_path, capsys):
    out = tmp_path / 'search.json'
    benchmark_search.main([
        '--sizes', '600', '--queries', '64', '--centres', '20', '--data',
        'clustered', '--kinds', 'exact', 'flat', 'ivf', 'hnsw', '--nprobes',
        '1', '8', '--json',
        str(out)
    ])
    rows = json.loads(out.read_text())['rows']
    assert [row['index'] for row in rows
            ] == ['exact', 'flat', 'ivf nprobe=1', 'ivf nprobe=8', 'hnsw']
    flat, probe1, probe8 = rows[1], rows[2], rows[3]
    assert flat['recall_at_1'] == flat['recall_at_10'] == 1.0
    # more probed cells find more of the exact top 10
    assert probe8['recall_at_10'] >= probe1['recall_at_10']
    assert all(row['ms_batch1'] > 0 for row in rows)
    assert '| clustered | 600 | ivf nprobe=8 |' in capsys.readouterr().out
