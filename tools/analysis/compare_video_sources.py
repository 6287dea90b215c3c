"""Files vs shards vs re-encoded shards on realistic H.264 clips.

The ``--compare-sources`` mode of ``benchmark_dataloader.py``: writes
``num_clips`` WebVid-like clips (640x360 H.264 at 25 fps, a textured
scene that scrolls and zooms with a moving object, deterministic from a
seed) with PyAV and a WebVid CSV, packs them with ``pack_shards.py`` as-is
and re-encoded (224 px short side, 8 fps), then times one config's video
pipeline over the three sources with one worker and with every worker, and
splits a worker's time per sample into decode, resize/crop, augmentation
and collation by running the pipeline's transforms one by one.
"""
import csv
import io
import math
import os
import os.path as osp
import sys
import tarfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

TOOLS = Path(__file__).resolve().parents[1]
FIRST_VIDEOID = 1000000000
# which stage each transform of a video pipeline belongs to
STAGES = ('decode', 'resize/crop', 'augmentation', 'collation')
STAGE_OF = dict(
    DecordInit='decode',
    SampleFrames='decode',
    DecordDecode='decode',
    LoadImageAsClip='decode',
    Resize='resize/crop',
    RandomCrop='resize/crop',
    CenterCrop='resize/crop',
    RandomResizedCrop='resize/crop',
    Flip='resize/crop',
    TemporalConsistentRandAugment='augmentation',
    PackVideoTextInputs='collation')


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A (H, W, 3) uint8 texture with coarse blobs and fine grain, so the
    encoder sees edges and detail at several scales, as in real footage."""
    out = np.zeros((height, width, 3), np.float32)
    for cell, weight in ((64, 0.55), (16, 0.3), (4, 0.15)):
        small = rng.random(
            (math.ceil(height / cell) + 1, math.ceil(width / cell) + 1, 3),
            dtype=np.float32)
        big = np.repeat(np.repeat(small, cell, 0), cell, 1)
        out += weight * big[:height, :width]
    return (out * 255).clip(0, 255).astype(np.uint8)


def _bounce(position: float, length: int) -> int:
    """``position`` reflected into ``[0, length]`` (a triangle wave)."""
    position %= 2 * length
    return int(position if position <= length else 2 * length - position)


def write_clip(path: str,
               seed: int,
               seconds: float = 10.0,
               width: int = 640,
               height: int = 360,
               fps: int = 25) -> None:
    """Encode one H.264 (yuv420p, libx264 defaults) MP4 with PyAV: a
    texture panned at a random velocity with a slow zoom, plus a square
    crossing the frame and a little sensor noise."""
    import av
    rng = np.random.default_rng(seed)
    margin = 160
    scene = _texture(rng, height + 2 * margin, width + 2 * margin)
    velocity = rng.uniform(-3, 3, size=2)
    box = int(rng.integers(40, 90))
    box_colour = rng.integers(0, 256, size=3, dtype=np.uint8)
    box_velocity = rng.uniform(2, 6, size=2)
    frames = int(round(seconds * fps))
    # sensor grain, a few frames of it cycled (drawing it per frame would
    # cost as much as encoding)
    grain = rng.integers(-6, 7, size=(4, height, width, 3), dtype=np.int16)
    with av.open(path, mode='w') as container:
        stream = container.add_stream('libx264', rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        stream.codec_context.thread_count = 1
        for t in range(frames):
            # pan back and forth over the 2 * margin the scene allows
            dy, dx = (_bounce(margin + v * t, 2 * margin) for v in velocity)
            zoom = int(20 * math.sin(t / frames * math.pi))  # zoom in, out
            view = scene[dy + zoom:dy + height - zoom,
                         dx + zoom:dx + width - zoom]
            # nearest-neighbour zoom back to the frame size
            rows = np.linspace(0, view.shape[0] - 1, height).astype(int)
            cols = np.linspace(0, view.shape[1] - 1, width).astype(int)
            image = view[rows][:, cols].astype(np.int16)
            y, x = (box_velocity * t).astype(int) % (
                np.array([height, width]) - box)
            image[y:y + box, x:x + box] = box_colour
            image = np.clip(image + grain[t % len(grain)], 0,
                            255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format='rgb24')
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_task(task: tuple) -> None:
    path, seed, seconds = task
    write_clip(path + '.partial.mp4', seed, seconds)
    os.replace(path + '.partial.mp4', path)


def make_corpus(root: str,
                num_clips: int,
                seconds: float = 10.0,
                seed: int = 0,
                workers: int = 1) -> str:
    """Write ``num_clips`` clips (in ``workers`` processes) under
    ``root/videos/{page_dir}/`` and ``root/results_train.csv`` (the
    official WebVid columns); a clip already there is kept. Returns the
    CSV path."""
    ann = osp.join(root, 'results_train.csv')
    rows, todo = [], []
    for k in range(num_clips):
        videoid, page_dir = str(FIRST_VIDEOID + k), f'{k // 100:03d}'
        path = osp.join(root, 'videos', page_dir, videoid + '.mp4')
        if not osp.exists(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            todo.append((path, seed * 100003 + k, seconds))
        rows.append([
            videoid, f'https://example.invalid/{videoid}.mp4',
            f'PT00H00M{int(seconds):02d}S', page_dir,
            f'synthetic clip {k}: a textured scene pans past a square'
        ])
    if len(todo) > 1 and workers > 1:
        with Pool(min(workers, len(todo))) as pool:
            pool.map(_write_task, todo)
    else:
        for task in todo:
            _write_task(task)
    with open(ann, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(
            ['videoid', 'contentUrl', 'duration', 'page_dir', 'name'])
        writer.writerows(rows)
    return ann


def pack(root: str, ann: str, out: str, num_shards: int, workers: int,
         reencode: bool) -> dict:
    """Pack the corpus with ``tools/data/pack_shards.py``; returns its
    ``stats.json``."""
    sys.path.insert(0, str(TOOLS / 'data'))
    import pack_shards
    num_clips = sum(1 for _ in open(ann)) - 1
    argv = [
        out, '--dataset-type', 'WebVidDataset', '--ann-file', ann,
        '--data-root',
        osp.join(root, 'videos'), '--max-samples-per-shard',
        str(math.ceil(num_clips / num_shards)), '--workers',
        str(workers)
    ]
    if reencode:
        argv += ['--reencode', '--reencode-size', '224', '--reencode-fps', '8']
    return pack_shards.pack(pack_shards.parse_args(argv), out=io.StringIO())


def loader_cfg(base: dict, source: str, root: str, pipeline: list,
               stats: Optional[dict], workers: int, batch_size: int) -> dict:
    """``base`` (a config's ``train_dataloader``) reading ``source``."""
    cfg = dict(
        base,
        num_workers=workers,
        persistent_workers=workers > 0,
        batch_size=batch_size,
        pin_memory=False)
    if source == 'files':
        cfg.update(
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(
                type='WebVidDataset',
                ann_file=osp.join(root, 'results_train.csv'),
                data_prefix=dict(video=osp.join(root, 'videos')),
                pipeline=pipeline))
    else:
        cfg.update(
            sampler=None,
            dataset=dict(
                type='VideoTextShardDataset',
                shards=osp.join(root, source, stats['shards'].split('/')[-1]),
                pipeline=pipeline,
                shuffle_buffer=16,
                seed=0,
                num_samples=stats['samples']))
    return cfg


def _inputs(source: str, root: str, limit: int) -> List[dict]:
    """``limit`` pipeline inputs of ``source``, as its dataset fills them."""
    if source == 'files':
        from alpro.registry import DATASETS
        dataset = DATASETS.build(
            dict(
                type='WebVidDataset',
                ann_file=osp.join(root, 'results_train.csv'),
                data_prefix=dict(video=osp.join(root, 'videos')),
                lazy_init=False))
        return [
            dict(dataset.get_data_info(i), replaced=[])
            for i in range(min(limit, len(dataset)))
        ]
    out: List[dict] = []
    for tar in sorted(Path(root, source).glob('*.tar')):
        with tarfile.open(tar) as f:
            members = {m.name: m for m in f.getmembers()}
            for name in sorted(members):
                if not name.endswith('.mp4') or len(out) == limit:
                    continue
                key = name[:-4]
                out.append(
                    dict(
                        sample_idx=len(out),
                        video_id=key,
                        video_bytes=f.extractfile(members[name]).read(),
                        video_path=f'{tar}/{name}',
                        text=f.extractfile(members[key +
                                                   '.txt']).read().decode(),
                        replaced=[]))
    return out


def stage_times(pipeline: Sequence[dict], inputs: List[dict],
                batch_size: int) -> Dict[str, float]:
    """Milliseconds per sample each stage takes in one process, the
    transforms run one at a time over ``inputs``; ``collation`` adds
    ``pseudo_collate`` of batches of ``batch_size``."""
    from mmengine.dataset import pseudo_collate

    from alpro.registry import TRANSFORMS
    transforms = [TRANSFORMS.build(dict(t)) for t in pipeline]
    seconds = dict.fromkeys(STAGES + ('other', ), 0.0)
    packed = []
    for results in inputs:
        results = dict(results)
        for cfg, transform in zip(pipeline, transforms):
            start = time.perf_counter()
            results = transform(results)
            seconds[STAGE_OF.get(cfg['type'], 'other')] += (
                time.perf_counter() - start)
        packed.append(results)
    start = time.perf_counter()
    for i in range(0, len(packed), batch_size):
        pseudo_collate(packed[i:i + batch_size])
    seconds['collation'] += time.perf_counter() - start
    return {
        stage: 1000 * value / len(inputs)
        for stage, value in seconds.items() if stage != 'other' or value
    }


def compare(cfg,
            pipeline_key: str,
            benchmark: Callable[..., dict],
            root: str,
            num_clips: int = 200,
            seconds: float = 10.0,
            seed: int = 0,
            workers: Optional[int] = None,
            batch_size: int = 8,
            stage_samples: int = 16,
            out=sys.stdout) -> Dict[str, dict]:
    """Make, pack and time the three sources (see the module docstring).

    Returns:
        dict: per source (``files``, ``shards``, ``shards_reencoded``):
        ``one_worker`` and ``all_workers`` (``benchmark``'s results),
        ``per_core`` (videos/s per core with every worker),
        ``stages`` (ms per sample per stage), ``bytes`` (of the media).
    """
    from mmengine.config import ConfigDict
    cores = len(os.sched_getaffinity(0))
    workers = workers or cores
    pipeline = [dict(t) for t in cfg[pipeline_key]]
    start = time.perf_counter()
    ann = make_corpus(root, num_clips, seconds, seed, cores)
    print(
        f'{num_clips} clips of {seconds:g} s, 640x360 H.264 at 25 fps, '
        f'in {root} ({time.perf_counter() - start:.0f} s)',
        file=out)
    stats: Dict[str, Optional[dict]] = dict(files=None)
    num_shards = max(2 * workers, 2)
    for source, reencode in (('shards', False), ('shards_reencoded', True)):
        start = time.perf_counter()
        stats[source] = pack(root, ann, osp.join(root, source), num_shards,
                             cores, reencode)
        print(
            f'{source}: {stats[source]["samples"]} samples, '
            f'{stats[source]["bytes"] / 1e6:.1f} MB in '
            f'{stats[source]["num_shards"]} shards '
            f'({time.perf_counter() - start:.0f} s)',
            file=out)
    batches = max(1, num_clips // batch_size)
    base = dict(cfg.train_dataloader)
    results: Dict[str, dict] = {}
    for source in ('files', 'shards', 'shards_reencoded'):
        row = {}
        for name, count in (('one_worker', 1), ('all_workers', workers)):
            # skip the first batch and those the workers prefetch meanwhile
            # (prefetch_factor 2), then time the rest of about one epoch
            warmup = min(1 + 2 * count, max(1, batches // 2))
            row[name] = benchmark(
                ConfigDict(
                    loader_cfg(base, source, root, pipeline, stats[source],
                               count, batch_size)),
                max(1, batches - warmup),
                warmup=warmup)
        row['per_core'] = row['all_workers']['videos_per_s'] / cores
        row['stages'] = stage_times(pipeline,
                                    _inputs(source, root, stage_samples),
                                    batch_size)
        row['bytes'] = (
            stats[source]['bytes'] if stats[source] else sum(
                p.stat().st_size for p in Path(root, 'videos').rglob('*.mp4')))
        results[source] = row
    print(report(results, cores, workers, batch_size, pipeline_key), file=out)
    return results


def report(results: Dict[str, dict], cores: int, workers: int, batch_size: int,
           pipeline_key: str) -> str:
    """A Markdown table of ``compare``'s results and the limiting stage."""
    shape = next(iter(results.values()))['one_worker']['shape']
    lines = [
        f'pipeline {pipeline_key}, clips {shape} (T, C, H, W), batch '
        f'{batch_size}, {cores} cores',
        '',
        '| source | MB | videos/s, 1 worker | videos/s, '
        f'{workers} workers | per worker | per core | ' +
        ' | '.join(f'{s} ms' for s in STAGES) + ' | limit |',
        '|---' * (7 + len(STAGES)) + '|',
    ]
    for source, row in results.items():
        stages = row['stages']
        limit = max(STAGES, key=lambda s: stages.get(s, 0.0))
        share = stages[limit] / sum(stages.values())
        lines.append(f"| {source} | {row['bytes'] / 1e6:.1f} | "
                     f"{row['one_worker']['videos_per_s']:.1f} | "
                     f"{row['all_workers']['videos_per_s']:.1f} | "
                     f"{row['all_workers']['videos_per_s_per_worker']:.1f} | "
                     f"{row['per_core']:.1f} | " +
                     ' | '.join(f'{stages.get(s, 0.0):.1f}' for s in STAGES) +
                     f' | {limit} ({share:.0%}) |')
    return '\n'.join(lines)
