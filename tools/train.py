"""Train a model from a config: python tools/train.py CONFIG [options]."""
import argparse
from typing import List

from mmengine.config import Config
from mmengine.logging import print_log

from alpro.utils import close_distributed
from alpro.utils.cli import (ToolRunner, add_runner_arguments, amp_available,
                             load_runner_config,
                             refuse_checkpoints_in_work_dir, reported_errors,
                             use_bf16, use_bf16_evaluation, use_compile_hook)
from alpro.utils.required_paths import check_required_paths


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an alpro model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CHECKPOINT, or, without a value, from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='start a new run in a work dir that holds checkpoints, '
        'overwriting them (refused without this or --resume)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='bf16 automatic mixed precision (CUDA only); the retrieval '
        'validation loop in bf16 too')
    parser.add_argument(
        '--compile',
        nargs='?',
        const='default',
        metavar='MODE',
        help='torch.compile the loss computation (CompileHook); MODE: '
        'default, reduce-overhead (CUDA graphs), max-autotune, '
        'max-autotune-no-cudagraphs')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def apply_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold ``--amp``, ``--compile`` and ``--resume`` into the config."""
    if args.amp and amp_available():
        use_bf16(cfg.optim_wrapper)
        use_bf16_evaluation(cfg.get('val_cfg'))
    if args.compile is not None:
        options = cfg.get('compile')
        cfg.compile = dict(
            options if isinstance(options, dict) else {}, mode=args.compile)
    use_compile_hook(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def loaders_used(cfg: Config) -> List[str]:
    """The dataloaders a training run builds."""
    loaders = ['train_dataloader']
    if cfg.get('val_cfg') and cfg.get('val_evaluator'):
        loaders.append('val_dataloader')
    return loaders


def main(argv=None) -> None:
    args = parse_args(argv)
    with reported_errors('train.py', args.debug):
        cfg = apply_train_args(load_runner_config(args), args)
        if not args.overwrite:
            refuse_checkpoints_in_work_dir(cfg)
        check_required_paths(
            cfg,
            loaders_used(cfg),
            checkpoint=cfg.get('load_from'),
            config_file=args.config)
        runner = ToolRunner.from_cfg(cfg)
        print(
            f'alpro train: rank {runner.rank} of {runner.world_size} on '
            f'{next(runner.model.parameters()).device}',
            flush=True)
        print_log(
            'alpro train: the environment, the config and the hook order '
            f'are in {runner.logger.log_file}',
            logger=runner.logger)
        runner.train()
    close_distributed()


if __name__ == '__main__':
    main()
