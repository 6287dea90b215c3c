"""Measure how fast a config's training data pipeline delivers clips.

Usage:
  python tools/analysis/benchmark_dataloader.py CONFIG [--num-batches N]
      [--num-workers W] [--batch-size B] [--worker-threads T]
      [--decoder-threads D] [--cfg-options k=v ...]
  python tools/analysis/benchmark_dataloader.py CONFIG --compare-sources
      [--work-dir DIR] [--num-clips N] [--clip-seconds S]
      [--pipeline-key video_pipeline]

Builds ``train_dataloader`` exactly as the Runner would, skips the first
batch (worker start-up), then times N batches. Prints videos/s overall and
per worker, and the wall time per sample a single worker spends.
``--worker-threads`` and ``--decoder-threads`` override the torch intra-op
and decord threads each worker starts with (``init_data_worker``; the
configs' default is 1 and 1).

``--compare-sources`` instead generates ``--num-clips`` 10-second 640x360
H.264 clips with PyAV, packs them into shards as-is and re-encoded (224 px,
8 fps), and times the config's ``--pipeline-key`` pipeline over files,
shards and re-encoded shards with 1 worker and with every worker, plus a
per-stage split (``tools/analysis/compare_video_sources.py``).
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from alpro.utils import register_all_modules


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--num-batches', type=int, default=20)
    parser.add_argument('--num-workers', type=int)
    parser.add_argument('--batch-size', type=int)
    parser.add_argument(
        '--worker-threads',
        type=int,
        help='torch intra-op threads of each worker')
    parser.add_argument(
        '--decoder-threads',
        type=int,
        help='decord threads of each video reader in a worker (0: decord '
        'chooses)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    compare = parser.add_argument_group(
        'files vs shards vs re-encoded shards (--compare-sources)')
    compare.add_argument(
        '--compare-sources',
        action='store_true',
        help='generate H.264 clips, pack them and time the three sources')
    compare.add_argument(
        '--work-dir',
        help='folder of the clips and shards (kept; clips already there '
        'are reused); default: a temporary folder')
    compare.add_argument('--num-clips', type=int, default=200)
    compare.add_argument('--clip-seconds', type=float, default=10.0)
    compare.add_argument('--seed', type=int, default=0)
    compare.add_argument(
        '--pipeline-key',
        default='video_pipeline',
        help='the config key of the pipeline to time')
    compare.add_argument(
        '--stage-samples',
        type=int,
        default=16,
        help='samples of each source for the per-stage split')
    return parser.parse_args(argv)


def benchmark(loader_cfg: dict, num_batches: int, warmup: int = 1) -> dict:
    """Time ``num_batches`` batches after the first ``warmup`` ones (worker
    start-up; past the batches the workers prefetch while the first one is
    made, the rate is the steady one).

    Returns:
        dict: ``videos``, ``seconds``, ``videos_per_s``,
        ``videos_per_s_per_worker``, ``ms_per_sample_per_worker``,
        ``replaced`` (bad samples swapped for others), ``shape``.
    """
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    workers = max(loader.num_workers, 1)
    iterator = iter(loader)
    first = next(iterator)  # includes starting the workers
    for _ in range(warmup - 1):
        try:
            next(iterator)
        except StopIteration:
            iterator = iter(loader)
    videos = replaced = 0
    start = time.perf_counter()
    for _ in range(num_batches):
        try:
            batch = next(iterator)
        except StopIteration:  # a small dataset: go round again
            iterator = iter(loader)
            batch = next(iterator)
        videos += len(batch['inputs'])
        replaced += sum(
            len(s.metainfo.get('replaced', ())) for s in batch['data_samples'])
    seconds = time.perf_counter() - start
    rate = videos / seconds
    return dict(
        videos=videos,
        seconds=seconds,
        videos_per_s=rate,
        videos_per_s_per_worker=rate / workers,
        ms_per_sample_per_worker=1000 * workers / rate,
        replaced=replaced,
        shape=tuple(first['inputs'][0].shape))


def _threads(loader_cfg) -> str:
    """The threads each worker starts with, as the output names them."""
    init = loader_cfg.get('worker_init_fn') or {}
    if init.get('type') != 'init_data_worker':
        return 'threads not set by init_data_worker'
    return (f"{init.get('intra_op_threads', 1)} intra-op, "
            f"{init.get('decoder_threads', 1)} decoder threads each")


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.compare_sources:
        return _compare_sources(args, cfg)
    loader_cfg = cfg.train_dataloader
    if args.num_workers is not None:
        loader_cfg.num_workers = args.num_workers
        loader_cfg.persistent_workers = args.num_workers > 0
    if args.batch_size is not None:
        loader_cfg.batch_size = args.batch_size
    threads = dict(
        intra_op_threads=args.worker_threads,
        decoder_threads=args.decoder_threads)
    threads = {
        key: value
        for key, value in threads.items() if value is not None
    }
    if threads:
        init = loader_cfg.get('worker_init_fn') or {}
        if init.get('type') != 'init_data_worker':
            init = dict(type='init_data_worker')
        loader_cfg.worker_init_fn = dict(init, **threads)
    result = benchmark(loader_cfg, args.num_batches)
    print(f"{args.config}: {result['videos']} clips {result['shape']} "
          f"(T, C, H, W) in {result['seconds']:.2f} s with "
          f'{loader_cfg.num_workers} workers ({_threads(loader_cfg)}), '
          f'batch {loader_cfg.batch_size}: '
          f"{result['videos_per_s']:.1f} videos/s, "
          f"{result['videos_per_s_per_worker']:.1f} videos/s per worker, "
          f"{result['ms_per_sample_per_worker']:.1f} ms per sample per "
          f"worker, {result['replaced']} bad samples replaced")
    return result


def _compare_sources(args: argparse.Namespace, cfg: Config) -> dict:
    """The ``--compare-sources`` mode; returns ``compare``'s results."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import compare_video_sources  # tools/analysis/compare_video_sources.py
    if args.pipeline_key not in cfg:
        raise SystemExit(f'{args.config} has no {args.pipeline_key!r}; '
                         'name its video pipeline with --pipeline-key')
    kwargs = dict(
        num_clips=args.num_clips,
        seconds=args.clip_seconds,
        seed=args.seed,
        workers=args.num_workers,
        batch_size=args.batch_size or 8,
        stage_samples=args.stage_samples)
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
        return compare_video_sources.compare(cfg, args.pipeline_key, benchmark,
                                             args.work_dir, **kwargs)
    with tempfile.TemporaryDirectory() as root:
        return compare_video_sources.compare(cfg, args.pipeline_key, benchmark,
                                             root, **kwargs)


if __name__ == '__main__':
    main()
