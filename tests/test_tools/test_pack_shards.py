"""Tests of tools/data/pack_shards.py: real videos in, real tars out."""
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.shard_files import write_corpus
from tests.tool_modules import load_tool
from tests.tool_runs import tool_env

pack_shards = load_tool('tools/data/pack_shards.py')
SCRIPT = Path(pack_shards.__file__)


def run(out: Path, root: Path, *extra: str) -> str:
    """Pack the WebVid corpus under ``root``; returns what the tool
    printed."""
    printed = io.StringIO()
    pack_shards.pack(
        pack_shards.parse_args([
            str(out), '--dataset-type', 'WebVidDataset', '--ann-file',
            str(root / 'ann.csv'), '--data-root',
            str(root / 'videos'), '--max-bad-row-ratio', '0.5', *extra
        ]),
        out=printed)
    return printed.getvalue()


def members(shard: Path) -> list:
    """The member names of a tar, in order."""
    with tarfile.open(shard) as tar:
        return tar.getnames()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """7 videos; row 2's caption is empty (a bad row), v4 is missing, v5
    is random bytes."""
    root = tmp_path / 'corpus'
    write_corpus(root, 7, captions={2: ''})
    (root / 'videos/p/v4.mp4').unlink()
    (root / 'videos/p/v5.mp4').write_bytes(bytes(range(256)) * 16)
    return root


def test_layout_stats_and_skipped_samples(corpus, tmp_path):
    out = tmp_path / 'shards'
    printed = run(out, corpus, '--max-samples-per-shard', '2')
    # rows 0 1 3 5 6 have files (v5 is not checked without --verify)
    assert sorted(p.name for p in out.glob('*.tar')) == [
        '00000.tar', '00001.tar', '00002.tar'
    ]
    assert sorted(members(out / '00000.tar')) == [
        '000000000.json', '000000000.mp4', '000000000.txt', '000000001.json',
        '000000001.mp4', '000000001.txt'
    ]
    with tarfile.open(out / '00001.tar') as tar:
        assert tar.extractfile('000000002.txt').read() == b'clip 3'
        meta = json.load(tar.extractfile('000000002.json'))
        video = tar.extractfile('000000002.mp4').read()
    assert meta['video_id'] == 'p/v3' and meta['caption'] == 'clip 3'
    assert video == (corpus / 'videos/p/v3.mp4').read_bytes()
    stats = json.loads((out / 'stats.json').read_text())
    assert stats['samples'] == 5 and stats['num_shards'] == 3
    assert stats['per_shard'] == {
        '00000.tar': 2,
        '00001.tar': 2,
        '00002.tar': 1
    }
    assert stats['shards'] == f'{out}/{{00000..00002}}.tar'
    assert stats['bytes'] == sum((corpus / f'videos/p/v{i}.mp4').stat().st_size
                                 for i in (0, 1, 3, 5, 6))
    assert stats['skipped'] == {
        'bad row: empty caption': 1,
        'file not found': 1
    }
    assert stats['skipped_examples']['file not found'] == [
        str(corpus / 'videos/p/v4.mp4')
    ]
    assert 'skipped 2 samples' in printed
    assert 'v4.mp4' in printed and 'empty caption' in printed


def test_verify_leaves_out_what_does_not_decode(corpus, tmp_path):
    out = tmp_path / 'shards'
    printed = run(out, corpus, '--verify')
    stats = json.loads((out / 'stats.json').read_text())
    assert stats['samples'] == 4
    reasons = [r for r in stats['skipped'] if r.startswith('does not decode')]
    assert len(reasons) == 1 and 'cannot open' in reasons[0]
    assert stats['skipped_examples'][reasons[0]] == [
        str(corpus / 'videos/p/v5.mp4')
    ]
    assert stats['duration'] == pytest.approx(4 * 8 / 8)  # 8 frames, 8 fps
    assert 'v5.mp4' in printed


def test_max_bytes_cuts_shards(corpus, tmp_path):
    out = tmp_path / 'shards'
    size = (corpus / 'videos/p/v0.mp4').stat().st_size
    run(out, corpus, '--max-bytes', str(2.5 * size))
    stats = json.loads((out / 'stats.json').read_text())
    assert list(stats['per_shard'].values()) == [2, 2, 1]


def test_resume_skips_written_shards_and_refuses_another_plan(
        corpus, tmp_path):
    out = tmp_path / 'shards'
    run(out, corpus, '--max-samples-per-shard', '2')
    first = {p.name: p.stat().st_mtime_ns for p in out.glob('*.tar')}
    before = (out / '00001.tar').read_bytes()
    # a job stopped while writing shard 1: its .partial is not a shard
    (out / '00001.tar').unlink()
    (out / '00001.tar.partial').write_bytes(b'half a shard')
    printed = run(out, corpus, '--max-samples-per-shard', '2')
    assert printed.count('already written, skipped') == 2
    assert (out / '00001.tar').read_bytes() == before  # the same bytes
    assert not (out / '00001.tar.partial').exists()
    assert (out / '00000.tar').stat().st_mtime_ns == first['00000.tar']
    assert json.loads((out / 'stats.json').read_text())['samples'] == 5
    with pytest.raises(SystemExit, match='other samples'):
        run(out, corpus, '--max-samples-per-shard', '3')


@pytest.mark.slow
def test_from_a_config_and_the_command_line(tmp_path):
    root = tmp_path / 'corpus'
    write_corpus(root, 3)
    config = tmp_path / 'config.py'
    config.write_text(
        'webvid = dict(type="WebVidDataset", ann_file=r"%s",\n'
        '              data_prefix=dict(video=r"%s"))\n'
        'train_dataloader = dict(dataset=dict(type="ConcatDataset",\n'
        '                                     datasets=[webvid]))\n' %
        (root / 'ann.csv', root / 'videos'))
    out = tmp_path / 'shards'
    done = subprocess.run([
        sys.executable,
        str(SCRIPT),
        str(out), '--config',
        str(config), '--dataset-key', 'train_dataloader.dataset.datasets.0'
    ],
                          capture_output=True,
                          text=True,
                          env=tool_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert '3 samples in 1 shards' in done.stdout
    refused = subprocess.run(
        [sys.executable,
         str(SCRIPT),
         str(out), '--config',
         str(config)],
        capture_output=True,
        text=True,
        env=tool_env())
    assert refused.returncode != 0
    assert 'pack one dataset at a time' in refused.stderr


@pytest.mark.slow
def test_workers_write_the_same_shards_and_resume(corpus, tmp_path):
    pytest.importorskip('av')
    job = ('--max-samples-per-shard', '2', '--reencode', '--reencode-size',
           '32', '--reencode-fps', '4')
    one, two = tmp_path / 'one', tmp_path / 'two'
    run(one, corpus, *job)
    printed = run(two, corpus, *job, '--workers', '2')
    assert '3/3' in printed  # the progress bar
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert len([n for n in names if n.endswith('.tar')]) == 3
    for name in names:
        if name != 'stats.json':
            assert (one / name).read_bytes() == (two / name).read_bytes()
    stats = [
        json.loads((out / 'stats.json').read_text()) for out in (one, two)
    ]
    assert stats[0].pop('shards') == f'{one}/{{00000..00002}}.tar'
    stats[1].pop('shards')
    assert stats[0] == stats[1]
    assert stats[1]['samples'] == 4 and stats[1]['duration'] == 4.
    assert stats[1]['skipped'][
        'does not re-encode: PyAV cannot decode (InvalidDataError)'] == 1
    # resumed with 2 workers: only the missing shard is written again
    before = (two / '00001.tar').read_bytes()
    (two / '00001.tar').unlink()
    printed = run(two, corpus, *job, '--workers', '2')
    assert printed.count('already written, skipped') == 2
    assert (two / '00001.tar').read_bytes() == before
    assert json.loads((two / 'stats.json').read_text())['skipped'] == \
        stats[1]['skipped']
    with pytest.raises(SystemExit, match='written with re-encoding'):
        run(two, corpus, *job[:-1], '8')
