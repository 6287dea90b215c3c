"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""
import argparse
import json
import logging

from mmengine.dist import is_main_process
from mmengine.logging import print_log

from alpro.utils import close_distributed
from alpro.utils.cli import (ToolRunner, add_runner_arguments, amp_available,
                             load_runner_config, reported_errors,
                             use_bf16_evaluation)
from alpro.utils.required_paths import check_required_paths


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an alpro model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (local path)')
    parser.add_argument(
        '--dump-metrics',
        metavar='FILE',
        help='also write the metrics to this JSON file')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='evaluate under bf16 autocast (CUDA; retrieval test loops)')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    with reported_errors('test.py', args.debug):
        cfg = load_runner_config(args)
        cfg.load_from = args.checkpoint
        # the model's own pretrained weights are not read: the checkpoint
        # replaces them
        check_required_paths(
            cfg, ['test_dataloader'],
            weights=False,
            checkpoint=args.checkpoint,
            config_file=args.config)
        if (args.amp and amp_available()
                and not use_bf16_evaluation(cfg.get('test_cfg'))):
            print_log(
                f"--amp ignored: the test loop {cfg.test_cfg.get('type')} "
                "has no bf16 option (MMEngine's loops: test_cfg.fp16=True "
                'for float16)',
                logger='current',
                level=logging.WARNING)
        metrics = ToolRunner.from_cfg(cfg).test()
    if args.dump_metrics and is_main_process():
        with open(args.dump_metrics, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=1)
    close_distributed()
    return metrics


if __name__ == '__main__':
    main()
