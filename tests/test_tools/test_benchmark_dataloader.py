"""tools/analysis/benchmark_dataloader.py on the demo corpus."""
from pathlib import Path

import pytest

from tests.tool_modules import load_tool

REPO = Path(__file__).resolve().parents[2]
benchmark_dataloader = load_tool('tools/analysis/benchmark_dataloader.py')


def test_reports_rates_for_the_demo_pipeline(demo_corpus, monkeypatch, capsys):
    monkeypatch.chdir(demo_corpus)
    result = benchmark_dataloader.main([
        str(REPO / 'configs/_base_/datasets/demo_webvid.py'), '--num-batches',
        '3', '--num-workers', '0', '--batch-size', '2'
    ])
    assert result['videos'] == 6
    assert result['shape'] == (8, 3, 64, 64)  # the config's 8 frames
    assert result['replaced'] == 0
    assert result['videos_per_s'] > 0
    assert abs(result['ms_per_sample_per_worker'] -
               1000 / result['videos_per_s']) < 1e-6
    assert 'videos/s per worker' in capsys.readouterr().out


def test_worker_threads_flags(demo_corpus, monkeypatch, capsys):
    monkeypatch.chdir(demo_corpus)
    result = benchmark_dataloader.main([
        str(REPO / 'configs/_base_/datasets/demo_webvid.py'), '--num-batches',
        '2', '--num-workers', '1', '--batch-size', '2', '--worker-threads',
        '1', '--decoder-threads', '3'
    ])
    assert result['videos'] == 4
    assert ('1 workers (1 intra-op, 3 decoder threads each)'
            in capsys.readouterr().out)


def test_compare_sources_on_generated_h264_clips(tmp_path, capsys):
    pytest.importorskip('av')
    results = benchmark_dataloader.main([
        str(REPO / 'configs/_base_/datasets/webvid_cc3m_pretrain.py'),
        '--compare-sources', '--work-dir',
        str(tmp_path), '--num-clips', '4', '--clip-seconds', '1',
        '--num-workers', '1', '--batch-size', '2', '--stage-samples', '2'
    ])
    assert list(results) == ['files', 'shards', 'shards_reencoded']
    for row in results.values():
        assert row['one_worker']['shape'] == (4, 3, 224, 224)
        assert row['one_worker']['videos_per_s'] > 0
        assert row['all_workers']['videos_per_s_per_worker'] > 0
        assert row['per_core'] > 0
        assert set(row['stages']) == {
            'decode', 'resize/crop', 'augmentation', 'collation'
        }
        assert all(ms > 0 for ms in row['stages'].values())
    assert len(list(tmp_path.glob('videos/*/*.mp4'))) == 4
    out = capsys.readouterr().out
    assert '| shards_reencoded |' in out and 'videos/s' in out
