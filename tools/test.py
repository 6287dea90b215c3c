"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""
import argparse
import json

from mmengine.dist import is_main_process
from mmengine.runner import Runner

from alpro.utils import close_distributed
from alpro.utils.cli import add_runner_arguments, load_runner_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an alpro model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (local path)')
    parser.add_argument(
        '--dump-metrics',
        metavar='FILE',
        help='also write the metrics to this JSON file')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_runner_config(args)
    cfg.load_from = args.checkpoint
    metrics = Runner.from_cfg(cfg).test()
    if args.dump_metrics and is_main_process():
        with open(args.dump_metrics, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=1)
    close_distributed()
    return metrics


if __name__ == '__main__':
    main()
