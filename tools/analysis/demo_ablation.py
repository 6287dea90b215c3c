"""The task ablation of the demo's ALPRO pre-training, over seeds.

Trains ``configs/demo/pretrain.py`` (or ``--config``) once per row and seed
from the same stage-1 prompter, tests zero-shot retrieval on the held-out
split, and prints a Markdown table of mean +- std over the seeds (sample
std). Runs whose metrics file exists are not run again, so an interrupted
ablation continues where it stopped.

Rows: ``vtc``, ``vtc_vtm_mlm``, ``all`` (VTC + VTM + MLM + PEM) without the
order-aware objective, and ``all_order``: the config as it is (the demo's:
all four tasks with the order-aware objective).

``--jobs N`` trains N runs at a time, each with ``OMP_NUM_THREADS`` = the
cores / N (unless the environment sets it) and its output in its work
dir's ``run.log``. One intra-op thread per run changes the summation order,
so the figures are not those of the same seed with the default threads.

Example (after ``bash tools/demo.sh``, which makes the prompter)::

    python tools/analysis/demo_ablation.py --seeds 0 1 2 --jobs 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
NO_ORDER = 'model.order_negatives=None'
ROWS: Dict[str, List[str]] = {
    'vtc': ["model.tasks=('vtc',)", NO_ORDER],
    'vtc_vtm_mlm': ["model.tasks=('vtc','vtm','mlm')", NO_ORDER],
    'all': [NO_ORDER],
    'all_order': [],
}
SHOWN = ('t2v_r1', 't2v_r5', 't2v_r10', 'v2t_r1', 'r_mean')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', nargs='+', choices=ROWS, default=list(ROWS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--config',
        default=str(REPO / 'configs/demo/pretrain.py'),
        help='the stage-2 config every row starts from')
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument(
        '--train-options',
        nargs='+',
        default=[],
        help='more --cfg-options for every training run')
    parser.add_argument('--out', help='write every run\'s metrics as JSON')
    parser.add_argument(
        '--jobs', type=int, default=1, help='runs trained at a time')
    return parser.parse_args(argv)


def run_once(config: str,
             options: List[str],
             seed: int,
             work_dir: Path,
             metrics: Path,
             threads: Optional[int] = None) -> dict:
    """Train and test one row at one seed; its test metrics. With
    ``threads``, each process gets that many intra-op threads and writes
    to ``work_dir/run.log``."""
    options = options + [f'randomness.seed={seed}']
    env, log = None, None
    if threads is not None:
        env = dict(os.environ)
        env.setdefault('OMP_NUM_THREADS', str(threads))
        work_dir.mkdir(parents=True, exist_ok=True)
        log = open(work_dir / 'run.log', 'w')

    def run(tool: str, *arguments: str) -> None:
        try:
            subprocess.run([
                sys.executable,
                str(REPO / 'tools' / tool), config, *arguments,
                '--cfg-options', *options
            ],
                           check=True,
                           env=env,
                           stdout=log,
                           stderr=log)
        except subprocess.CalledProcessError as error:
            where = f'; its output: {log.name}' if log else ''
            raise RuntimeError(f'{tool} failed for {work_dir.name} '
                               f'(exit {error.returncode}){where}') from None

    try:
        run('train.py', '--work-dir', str(work_dir), '--overwrite')
        # MMEngine's CheckpointHook names the last checkpoint it saved here
        last = (work_dir / 'last_checkpoint').read_text().strip()
        run('test.py', last, '--work-dir', str(work_dir), '--dump-metrics',
            str(metrics))
    finally:
        if log:
            log.close()
    return json.loads(metrics.read_text())


def summary(results: Dict[str, Dict[int, dict]]) -> str:
    """Markdown table: mean +- std over the seeds of each row."""
    lines = [
        '| tasks | seeds | ' + ' | '.join(SHOWN) + ' |',
        '|---|---|' + '---|' * len(SHOWN)
    ]
    for row, runs in results.items():
        cells = []
        for name in SHOWN:
            values = [
                value for run in runs.values() for key, value in run.items()
                if key.split('/')[-1] == name
            ]
            if not values:
                cells.append('')
            elif len(values) == 1:
                cells.append(f'{values[0]:.1f}')
            else:
                cells.append(f'{statistics.mean(values):.1f} +- '
                             f'{statistics.stdev(values):.1f}')
        lines.append(f'| {row} | {len(runs)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[int, dict]]:
    args = parse_args(argv)
    root = Path(args.work_dir)
    if args.jobs < 1:
        raise SystemExit(f'--jobs must be >= 1, got {args.jobs}')
    threads = None
    if args.jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
    results: Dict[str, Dict[int, dict]] = {row: {} for row in args.rows}
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = {}
        for row in args.rows:
            for seed in args.seeds:
                work_dir = root / f'{row}_seed{seed}'
                metrics = work_dir / 'test_metrics.json'
                if metrics.is_file():
                    results[row][seed] = json.loads(metrics.read_text())
                    print(f'{row} seed {seed}: done before ({metrics})')
                    continue
                runs[row, seed] = pool.submit(run_once, args.config,
                                              ROWS[row] + args.train_options,
                                              seed, work_dir, metrics, threads)
        for (row, seed), run in runs.items():
            results[row][seed] = run.result()
            print(f'{row} seed {seed}: done', flush=True)
    print(summary(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + '\n')
    return results


if __name__ == '__main__':
    main()
