"""Real tar shards for the shard tests: a small WebVid-style corpus of real
videos, and tars written by hand with ``tarfile`` in video2dataset's layout
(``{key}.mp4``, ``{key}.txt``, ``{key}.json``), independent of the
``webdataset`` writer that ``tools/data/pack_shards.py`` uses."""
import csv
import io
import json
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from tests.video_files import write_video


def write_corpus(root: Path,
                 num_videos: int,
                 captions: Optional[Dict[int, str]] = None) -> Path:
    """Videos ``root/videos/p/v{i}.mp4`` (8 frames, 64 x 48, seed i) and
    their WebVid CSV ``root/ann.csv``, captions ``'clip {i}'`` unless
    ``captions`` says otherwise.

    Returns:
        the CSV.
    """
    captions = captions or {}
    for i in range(num_videos):
        write_video(root / 'videos' / 'p' / f'v{i}.mp4', num_frames=8, seed=i)
    ann = root / 'ann.csv'
    with open(ann, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(
            ['videoid', 'contentUrl', 'duration', 'page_dir', 'name'])
        for i in range(num_videos):
            writer.writerow([
                f'v{i}', 'u', 'PT00H00M01S', 'p',
                captions.get(i, f'clip {i}')
            ])
    return ann


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_tar(path: Path, samples: Sequence[dict]) -> Path:
    """A tar of ``samples``, each a dict with ``key`` and one ``bytes`` (or
    ``str``) value per extension, written member by member in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, 'w') as tar:
        for sample in samples:
            for ext, value in sample.items():
                if ext == 'key':
                    continue
                data = value.encode() if isinstance(value, str) else value
                add_member(tar, f'{sample["key"]}.{ext}', data)
    return path


def video2dataset_sample(key: str, video: Path, caption: str) -> dict:
    """One sample as video2dataset writes it."""
    meta = dict(
        key=key, caption=caption, url=f'https://example.invalid/{key}.mp4')
    return dict(
        key=key, mp4=video.read_bytes(), txt=caption, json=json.dumps(meta))


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cut the file at ``path`` to ``fraction`` of its bytes, in place."""
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    return path


def cut_in_header(path: Path, member: str) -> Path:
    """Cut the tar at ``path`` in the middle of ``member``'s header, in
    place: the members before it stay whole."""
    with tarfile.open(path) as tar:
        offset = tar.getmember(member).offset
    data = path.read_bytes()
    path.write_bytes(data[:offset + 256])
    return path


def keys_of(samples: List[dict]) -> List[str]:
    """The ``video_id`` of each packed sample (its key)."""
    return [s['data_samples'].video_id for s in samples]
