"""Pack a file dataset (an annotation plus its media folder) into WebDataset
tar shards in video2dataset's layout, for ``VideoTextShardDataset``.

Any annotation a file dataset reads can be packed: the dataset is built
(from a config, or from ``--dataset-type/--ann-file/--data-root``) and its
samples (media path, caption, id) are written, in the dataset's order, as
``{key}.mp4`` (or the media's own extension), ``{key}.txt`` (the caption)
and ``{key}.json`` (``key``, ``video_id``, ``caption``, every caption of a
CC-3M record, the source path) into ``OUT/{00000..NNNNN}.tar``. Each shard
gets a ``{shard}_stats.json`` beside it, and ``OUT/stats.json`` sums them.

With ``--reencode`` each video is re-encoded in memory with PyAV (H.264,
yuv420p) to ``--reencode-size`` (short side) and ``--reencode-fps``
(``tools/data/reencode.py``); images are packed unchanged. ``--workers N``
writes N shards at a time in N processes, with a progress bar.

The job is resumable: the shard plan is a function of the annotation and
the media files' sizes (whatever ``--workers``), a shard is written to
``.partial`` and renamed when complete, and a shard already there is
skipped.

Examples::

    python tools/data/pack_shards.py data/demo/shards \\
        --dataset-type WebVidDataset \\
        --ann-file data/demo/annotations/results_demo_train.csv \\
        --data-root data/demo/videos --max-samples-per-shard 100
    python tools/data/pack_shards.py data/webvid/shards \\
        --config configs/_base_/datasets/webvid_cc3m_pretrain.py \\
        --dataset-key train_dataloader.dataset.datasets.0 --max-bytes 1e9 \\
        --reencode --reencode-size 224 --reencode-fps 8 --workers 8
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from mmengine.utils import track_parallel_progress, track_progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reencode  # noqa: E402  (tools/data/reencode.py)

SHARD_WIDTH = 5
MAX_EXAMPLES = 5


@dataclass
class Item:
    """One sample to pack."""

    key: str
    path: str
    text: str
    video_id: str
    captions: List[str]
    size: int


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pack a file dataset into WebDataset tar shards '
        '(video2dataset layout).')
    parser.add_argument('out', help='folder of the shards')
    source = parser.add_argument_group('the dataset')
    source.add_argument('--config', help='a config that holds the dataset')
    source.add_argument(
        '--dataset-key',
        default='train_dataloader.dataset',
        help='dotted key of the dataset in the config (list items by '
        'number: train_dataloader.dataset.datasets.0)')
    source.add_argument(
        '--dataset-type', help='a registered dataset, e.g. WebVidDataset')
    source.add_argument('--ann-file', help='its annotation file')
    source.add_argument(
        '--data-root',
        help='its media folder (data_prefix); images: '
        'CC3MDataset')
    source.add_argument(
        '--max-bad-row-ratio',
        type=float,
        default=None,
        help="the dataset's bound on bad annotation rows (its default: "
        '0.01); the rows skipped are counted in the summary')
    size = parser.add_argument_group('shard size (a shard closes at either)')
    size.add_argument('--max-samples-per-shard', type=int, default=1000)
    size.add_argument(
        '--max-bytes',
        type=float,
        default=None,
        help='bytes of media and text per shard, e.g. 1e9')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='open every video with decord (every image with Pillow) and '
        'leave out what does not decode; also sums the durations')
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='processes writing shards (one shard each at a time); the '
        'shards are the same whatever the number')
    reencode.add_reencode_args(parser)
    return parser.parse_args(argv)


def _dig(cfg: object, dotted: str) -> object:
    for part in dotted.split('.'):
        cfg = cfg[int(part)] if isinstance(cfg, (list, tuple)) else cfg[part]
    return cfg


def build_dataset(args: argparse.Namespace):
    """The file dataset the arguments name, with an empty pipeline."""
    import alpro.datasets  # noqa: F401  (registers the datasets)
    from alpro.registry import DATASETS
    if args.config:
        from mmengine.config import Config
        cfg = dict(_dig(Config.fromfile(args.config), args.dataset_key))
        if cfg.get('type') in ('ConcatDataset', 'RepeatDataset'):
            raise SystemExit(
                f'{args.dataset_key} is a {cfg["type"]}; pack one dataset '
                'at a time, e.g. --dataset-key '
                f'{args.dataset_key}.datasets.0')
    elif args.dataset_type and args.ann_file:
        cls = DATASETS.get(args.dataset_type)
        if cls is None:
            raise SystemExit(f'no dataset {args.dataset_type!r} in alpro')
        key = getattr(cls, 'media_key', 'video')
        cfg = dict(type=args.dataset_type, ann_file=args.ann_file)
        if args.data_root:
            cfg['data_prefix'] = {key: args.data_root}
    else:
        raise SystemExit('name the dataset: --config CFG [--dataset-key K], '
                         'or --dataset-type T --ann-file F [--data-root D]')
    # training mode: bad rows are skipped (and counted), no placeholders
    cfg.update(pipeline=[], test_mode=False)
    if args.max_bad_row_ratio is not None:
        cfg['max_bad_row_ratio'] = args.max_bad_row_ratio
    return DATASETS.build(cfg)


def dataset_items(dataset, skipped: Counter,
                  examples: Dict[str, List[str]]) -> Iterator[Item]:
    """The samples of ``dataset`` whose media file exists and is not empty,
    in order; the others are counted in ``skipped``."""
    from mmengine.dataset import BaseDataset
    for report in getattr(dataset, 'row_reports', ()):
        for line, problem in report.bad:
            _skip(skipped, examples, f'bad row: {problem}', report.where(line))
        for rule, lines in report.skipped.items():
            skipped[f'left out by rule: {rule}'] += len(lines)
    for index in range(len(dataset)):
        # the stored record, before any per-draw choice (CC-3M's caption)
        info = BaseDataset.get_data_info(dataset, index)
        path = info.get('video_path', info.get('img_path'))
        captions = list(info.get('captions') or [info.get('text', '')])
        if not os.path.isfile(path):
            _skip(skipped, examples, 'file not found', path)
            continue
        size = os.path.getsize(path)
        if size == 0:
            _skip(skipped, examples, 'empty file', path)
            continue
        yield Item(
            key=f'{index:09d}',
            path=path,
            text=captions[0],
            video_id=str(info.get('video_id', index)),
            captions=captions,
            size=size + sum(len(c.encode()) for c in captions))


def _skip(skipped: Counter, examples: Dict[str, List[str]], reason: str,
          where: str) -> None:
    skipped[reason] += 1
    named = examples.setdefault(reason, [])
    if len(named) < MAX_EXAMPLES:
        named.append(where)


def plan_shards(items: Iterator[Item], max_samples: int,
                max_bytes: Optional[float]) -> List[List[Item]]:
    """Cut the items into shards of at most ``max_samples`` samples and
    ``max_bytes`` bytes (a sample larger than that gets a shard alone)."""
    shards: List[List[Item]] = []
    current: List[Item] = []
    held = 0
    for item in items:
        full = len(current) >= max_samples or (
            max_bytes is not None and current and held + item.size > max_bytes)
        if full:
            shards.append(current)
            current, held = [], 0
        current.append(item)
        held += item.size
    if current:
        shards.append(current)
    return shards


def _verify(item: Item) -> Tuple[Optional[str], float]:
    """``(why the media does not decode or None, its duration in s)``."""
    from alpro.datasets.errors import BadSampleError
    from alpro.datasets.transforms import DecordInit, LoadImageAsClip
    ext = osp.splitext(item.path)[1].lower()
    try:
        if ext in reencode.IMAGE_EXTS:
            LoadImageAsClip(1)(dict(img_path=item.path))
            return None, 0.
        results = DecordInit()(dict(video_path=item.path))
        return None, results['total_frames'] / max(results['avg_fps'], 1e-6)
    except BadSampleError as error:
        return error.reason, 0.


def write_shard(path: str,
                items: List[Item],
                verify: bool,
                options: Optional[reencode.ReencodeOptions] = None) -> dict:
    """Write one shard (to ``.partial``, then renamed) and its
    ``{shard}_stats.json``; returns those stats, with the samples
    ``--verify`` or re-encoding left out and why."""
    from webdataset import TarWriter
    stats = dict(
        shard=osp.basename(path),
        samples=0,
        bytes=0,
        source_bytes=0,
        duration=0.,
        planned=[item.key for item in items],
        reencode=None if options is None else asdict(options),
        skipped=Counter(),
        skipped_examples={})
    partial = path + '.partial'
    with open(partial, 'wb') as stream, TarWriter(
            stream, encoder=False, mtime=0) as writer:
        for item in items:
            duration = 0.
            if verify:
                problem, duration = _verify(item)
                if problem is not None:
                    _skip(stats['skipped'], stats['skipped_examples'],
                          f'does not decode: {problem}', item.path)
                    continue
            try:
                data, ext, stated = reencode.media(item.path, options)
            except reencode.ReencodeError as error:
                _skip(stats['skipped'], stats['skipped_examples'],
                      f'does not re-encode: {error.reason}', item.path)
                continue
            meta = dict(
                key=item.key,
                video_id=item.video_id,
                caption=item.text,
                captions=item.captions,
                source=item.path)
            if stated is not None:  # re-encoded: the source's duration
                meta['duration'] = duration = stated
            stats['duration'] += duration
            writer.write({
                '__key__': item.key,
                ext: data,
                'txt': item.text.encode(),
                'json': json.dumps(meta).encode()
            })
            stats['samples'] += 1
            stats['bytes'] += len(data)
            stats['source_bytes'] += os.path.getsize(item.path)
    with open(_stats_path(path), 'w') as f:
        json.dump(stats, f)
    os.replace(partial, path)
    return stats


def _write_task(task: tuple) -> dict:
    """``write_shard(*task)``, for a process pool."""
    return write_shard(*task)


def _existing(path: str, items: List[Item],
              options: Optional[reencode.ReencodeOptions]) -> Optional[dict]:
    """The stats of a shard already written from this plan; None when there
    is none (a ``.partial`` left by a stopped job does not count).

    Raises:
        SystemExit: the shard was written from another plan.
    """
    if not (osp.isfile(path) and osp.isfile(_stats_path(path))):
        return None
    with open(_stats_path(path)) as f:
        stats = json.load(f)
    if stats.get('planned') != [item.key for item in items]:
        raise SystemExit(
            f'{path} holds other samples than this job plans for it (another '
            'annotation, shard size or set of files); pack into a new folder '
            'or delete the old shards')
    wanted = None if options is None else asdict(options)
    if stats.get('reencode') != wanted:
        raise SystemExit(
            f'{path} was written with re-encoding {stats.get("reencode")}, '
            f'this job asks for {wanted}; pack into a new folder or delete '
            'the old shards')
    return stats


def _stats_path(shard: str) -> str:
    return shard[:-len('.tar')] + '_stats.json'


def pack(args: argparse.Namespace, out=sys.stdout) -> dict:
    """Run the job; returns what ``stats.json`` holds."""
    if args.max_samples_per_shard < 1:
        raise SystemExit('--max-samples-per-shard must be >= 1')
    if args.workers < 1:
        raise SystemExit('--workers must be >= 1')
    options = reencode.reencode_options(args)
    if options is not None:
        reencode.require_av()
    dataset = build_dataset(args)
    skipped: Counter = Counter()
    examples: Dict[str, List[str]] = {}
    shards = plan_shards(
        dataset_items(dataset, skipped, examples), args.max_samples_per_shard,
        args.max_bytes)
    os.makedirs(args.out, exist_ok=True)
    width = max(SHARD_WIDTH, len(str(max(len(shards) - 1, 0))))
    paths = [
        osp.join(args.out, f'{number:0{width}d}.tar')
        for number in range(len(shards))
    ]
    per_shard = [
        _existing(p, items, options) for p, items in zip(paths, shards)
    ]
    todo = [n for n, stats in enumerate(per_shard) if stats is None]
    for number in sorted(set(range(len(shards))) - set(todo)):
        print(f'{paths[number]}: already written, skipped', file=out)
    # whole shards in parallel, from the plan: the same bytes for any N
    tasks = [(paths[n], shards[n], args.verify, options) for n in todo]
    nproc = min(args.workers, len(tasks))
    if nproc > 1:
        done = track_parallel_progress(_write_task, tasks, nproc, file=out)
    else:
        done = track_progress(_write_task, tasks, file=out) if tasks else []
    for number, stats in zip(todo, done):
        per_shard[number] = stats
        print(
            f'{paths[number]}: {stats["samples"]} samples, '
            f'{stats["bytes"]} bytes',
            file=out)
    written = len(todo)
    for stats in per_shard:
        # the samples --verify or re-encoding left out, counted when their
        # shard was written
        for reason, count in stats['skipped'].items():
            skipped[reason] += count
            named = examples.setdefault(reason, [])
            named.extend(stats['skipped_examples'][reason])
            del named[MAX_EXAMPLES:]
    last = f'{len(shards) - 1:0{width}d}'
    summary = dict(
        shards=osp.join(args.out, f'{{{0:0{width}d}..{last}}}.tar'),
        num_shards=len(shards),
        samples=sum(s['samples'] for s in per_shard),
        bytes=sum(s['bytes'] for s in per_shard),
        source_bytes=sum(s.get('source_bytes', 0) for s in per_shard),
        duration=(sum(s['duration']
                      for s in per_shard) if args.verify or options else None),
        per_shard={s['shard']: s['samples']
                   for s in per_shard},
        skipped=dict(skipped),
        skipped_examples=examples)
    with open(osp.join(args.out, 'stats.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(
        f'{summary["samples"]} samples in {len(shards)} shards '
        f'({written} written, {len(shards) - written} already there): '
        f'{summary["shards"]}',
        file=out)
    if skipped:
        print(f'skipped {sum(skipped.values())} samples:', file=out)
        for reason, count in skipped.most_common():
            named = ', '.join(examples.get(reason, []))
            print(
                f'  {count} {reason}' + (f' ({named})' if named else ''),
                file=out)
    return summary


def main(argv: Optional[List[str]] = None) -> None:
    pack(parse_args(argv))


if __name__ == '__main__':
    main()
