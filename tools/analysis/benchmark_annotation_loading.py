"""Measure what the media-path check costs when an annotation is parsed.

Usage:
  python tools/analysis/benchmark_annotation_loading.py [--rows 500000]
      [--repeat 3] [--links]

Writes a WebVid CSV of ``--rows`` rows (``{page_dir}/{videoid}``, as the
official release names its videos) to a temporary folder and times
``WebVidDataset.load_data_list()`` twice: with ``data_prefix`` set (every
path joined to the root and checked for an escape) and without (paths taken
as written, no check). ``--links`` also makes each video a symlink into a
shared store outside the root, the cluster layout the check must accept.
Prints the best of ``--repeat`` timings and the check's share of loading.
"""
import argparse
import csv
import os
import tempfile
import time
from pathlib import Path
from typing import Dict

from alpro.datasets import WebVidDataset

ROWS_PER_PAGE_DIR = 50


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rows', type=int, default=500_000)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument(
        '--links',
        action='store_true',
        help='make every video a symlink into a store outside the root')
    return parser.parse_args(argv)


def video_id_of(i: int) -> str:
    """The ``videoid`` of row ``i``, shaped like WebVid's."""
    return str(1_000_000_000 + i)


def write_annotation(folder: Path, rows: int, links: bool) -> Path:
    """A WebVid CSV of ``rows`` rows; with ``links``, the videos too, as
    symlinks from ``folder/videos`` into ``folder/store``."""
    ann = folder / 'results_train.csv'
    store = folder / 'store' / 'clip.mp4'
    if links:
        store.parent.mkdir(parents=True)
        store.write_bytes(b'')
    with open(ann, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(
            ['videoid', 'contentUrl', 'duration', 'page_dir', 'name'])
        for i in range(rows):
            page = i // ROWS_PER_PAGE_DIR
            page_dir = f'{page * 50 + 1:06d}_{page * 50 + 50:06d}'
            writer.writerow([
                video_id_of(i), f'https://example.com/{i}.mp4', 'PT00H00M12S',
                page_dir, f'a caption of clip {i}'
            ])
            if links:
                link = folder / 'videos' / page_dir / f'{video_id_of(i)}.mp4'
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(store, link)
    return ann


def time_loading(ann: Path, root: str, repeat: int) -> float:
    """The best of ``repeat`` timings of parsing ``ann`` (seconds)."""
    dataset = WebVidDataset(
        ann_file=str(ann),
        data_prefix=dict(video=root) if root else None,
        lazy_init=True)
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        dataset.load_data_list()
        best = min(best, time.perf_counter() - start)
    return best


def benchmark(rows: int, repeat: int, links: bool) -> Dict[str, float]:
    """``unchecked``, ``checked``, ``check`` (seconds) and ``share`` (the
    check's fraction of the checked loading)."""
    with tempfile.TemporaryDirectory() as tmp:
        ann = write_annotation(Path(tmp), rows, links)
        unchecked = time_loading(ann, '', repeat)
        checked = time_loading(ann, str(Path(tmp) / 'videos'), repeat)
    check = max(checked - unchecked, 0.0)
    return dict(
        unchecked=unchecked,
        checked=checked,
        check=check,
        share=check / checked)


def main(argv=None) -> None:
    args = parse_args(argv)
    result = benchmark(args.rows, args.repeat, args.links)
    print(f'{args.rows} rows, best of {args.repeat}'
          f'{", videos as symlinks" if args.links else ""}:\n'
          f'  without the path check: {result["unchecked"]:.2f} s\n'
          f'  with the path check:    {result["checked"]:.2f} s\n'
          f'  the check costs {result["check"]:.2f} s, '
          f'{100 * result["share"]:.1f}% of loading')


if __name__ == '__main__':
    main()
