"""Tests of ``pack_shards.py --reencode`` (tools/data/reencode.py): real
videos re-encoded by PyAV, read back by decord through the shard dataset."""
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from alpro.datasets import VideoTextShardDataset
from alpro.datasets.transforms import DecordInit
from tests.shard_files import write_corpus
from tests.tool_modules import load_tool
from tests.video_files import write_video

pack_shards = load_tool('tools/data/pack_shards.py')
reencode = sys.modules['reencode']  # tools/data/reencode.py, as it loads it

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=2, strategy='uniform'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]


def run(out: Path, root: Path, *extra: str) -> str:
    """Pack the WebVid corpus under ``root``; returns what was printed."""
    printed = io.StringIO()
    pack_shards.pack(
        pack_shards.parse_args([
            str(out), '--dataset-type', 'WebVidDataset', '--ann-file',
            str(root / 'ann.csv'), '--data-root',
            str(root / 'videos'), *extra
        ]),
        out=printed)
    return printed.getvalue()


def test_output_size_keeps_the_aspect_and_never_enlarges():
    size = reencode.output_size
    options = reencode.ReencodeOptions
    assert size(640, 360, options(size=224)) == (398, 224)
    assert size(360, 640, options(size=224)) == (224, 398)
    assert size(64, 48, options(size=224)) == (64, 48)
    assert size(641, 361, options(size=None)) == (640, 360)  # even sides
    assert size(1280, 720, options(size=224, max_size=320)) == (320, 180)


def test_reencoded_shards_decode_at_the_asked_size_and_rate(tmp_path):
    pytest.importorskip('av')
    root = tmp_path / 'corpus'
    write_corpus(root, 3)  # 8 frames of 64 x 48 at 8 fps: 1 s each
    write_video(root / 'videos/p/v1.mp4', num_frames=16, seed=1)  # 2 s
    (root / 'videos/p/v2.mp4').write_bytes(bytes(range(256)) * 16)
    out = tmp_path / 'shards'
    printed = run(out, root, '--reencode', '--reencode-size', '32',
                  '--reencode-fps', '4')
    stats = json.loads((out / 'stats.json').read_text())
    reason = 'does not re-encode: PyAV cannot decode (InvalidDataError)'
    assert stats['samples'] == 2 and stats['skipped'] == {reason: 1}
    assert stats['skipped_examples'][reason] == [str(root / 'videos/p/v2.mp4')]
    assert 'v2.mp4' in printed and 'skipped 1 samples' in printed
    assert stats['duration'] == pytest.approx(1. + 2.)
    with tarfile.open(out / '00000.tar') as tar:
        videos = {
            name: tar.extractfile(name).read()
            for name in tar.getnames() if name.endswith('.mp4')
        }
        meta = json.load(tar.extractfile('000000001.json'))
    assert meta['duration'] == pytest.approx(2.)
    assert stats['bytes'] == sum(len(v) for v in videos.values())
    # 4 fps: 4 frames per second of source, at 4 fps
    for name, seconds in (('000000000.mp4', 1), ('000000001.mp4', 2)):
        opened = DecordInit()(dict(video_bytes=videos[name], video_path=name))
        assert opened['total_frames'] == 4 * seconds
        assert opened['avg_fps'] == pytest.approx(4.)
    dataset = VideoTextShardDataset(
        str(out / '00000.tar'), pipeline=PIPELINE, shuffle=False, seed=0)
    samples = list(dataset)
    assert [s['data_samples'].video_id
            for s in samples] == ['000000000', '000000001']
    for sample in samples:
        # (T, C, H, W): the short side 32, 64 x 48 scaled to 42 x 32
        assert tuple(sample['inputs'].shape) == (2, 3, 32, 42)


def test_source_rate_is_kept_below_the_asked_one(tmp_path):
    pytest.importorskip('av')
    video = write_video(tmp_path / 'v.mp4', num_frames=8, fps=8)
    data, duration = reencode.reencode(
        str(video), reencode.ReencodeOptions(size=None, fps=30))
    opened = DecordInit()(dict(video_bytes=data, video_path='v.mp4'))
    assert opened['total_frames'] == 8 and duration == pytest.approx(1.)
    assert opened['original_shape'] == (48, 64)


def test_reencode_without_pyav_names_the_install(tmp_path, monkeypatch):
    root = tmp_path / 'corpus'
    write_corpus(root, 1)
    monkeypatch.setitem(sys.modules, 'av', None)  # `import av` fails
    with pytest.raises(SystemExit, match='pip install av'):
        run(tmp_path / 'shards', root, '--reencode')
    assert not (tmp_path / 'shards').exists()


def test_images_are_packed_unchanged(tmp_path):
    pytest.importorskip('av')
    Image.new('RGB', (40, 30), (200, 10, 10)).save(tmp_path / 'a.jpg')
    ann = tmp_path / 'cc3m.json'
    ann.write_text(json.dumps([dict(image='a.jpg', caption='red')]))
    out = tmp_path / 'shards'
    pack_shards.pack(
        pack_shards.parse_args([
            str(out), '--dataset-type', 'CC3MDataset', '--ann-file',
            str(ann), '--data-root',
            str(tmp_path), '--reencode'
        ]),
        out=io.StringIO())
    with tarfile.open(out / '00000.tar') as tar:
        assert tar.extractfile('000000000.jpg').read() == (
            tmp_path / 'a.jpg').read_bytes()
    stats = json.loads((out / 'stats.json').read_text())
    assert stats['samples'] == 1 and stats['duration'] == 0.
