"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""
import argparse

from mmengine.runner import Runner

from alpro.utils import close_distributed
from alpro.utils.cli import add_runner_arguments, load_runner_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an alpro model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (local path)')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_runner_config(args)
    cfg.load_from = args.checkpoint
    metrics = Runner.from_cfg(cfg).test()
    close_distributed()
    return metrics


if __name__ == '__main__':
    main()
