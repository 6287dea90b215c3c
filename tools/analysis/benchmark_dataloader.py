"""Measure how fast a config's training data pipeline delivers clips.

Usage:
  python tools/analysis/benchmark_dataloader.py CONFIG [--num-batches N]
      [--num-workers W] [--batch-size B] [--worker-threads T]
      [--decoder-threads D] [--cfg-options k=v ...]

Builds ``train_dataloader`` exactly as the Runner would, skips the first
batch (worker start-up), then times N batches. Prints videos/s overall and
per worker, and the wall time per sample a single worker spends.
``--worker-threads`` and ``--decoder-threads`` override the torch intra-op
and decord threads each worker starts with (``init_data_worker``; the
configs' default is 1 and 1).
"""
import argparse
import time

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
    return parser.parse_args(argv)


def benchmark(loader_cfg: dict, num_batches: int) -> dict:
    """Time ``num_batches`` batches after the first one.

    Returns:
        dict: ``videos``, ``seconds``, ``videos_per_s``,
        ``videos_per_s_per_worker``, ``ms_per_sample_per_worker``,
        ``replaced`` (bad samples swapped for others), ``shape``.
    """
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    workers = max(loader.num_workers, 1)
    iterator = iter(loader)
    first = next(iterator)  # includes starting the workers
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


if __name__ == '__main__':
    main()
