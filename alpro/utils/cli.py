"""What the train and test tools share: common options, config loading."""
import argparse
import logging
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from .distributed import init_distributed
from .setup_env import register_all_modules

__all__ = [
    'add_runner_arguments', 'amp_available', 'load_runner_config', 'use_bf16',
    'use_bf16_evaluation', 'use_compile_hook'
]

#: the loops that take ``dtype`` (alpro's retrieval loops)
_DTYPE_LOOPS = ('RetrievalValLoop', 'RetrievalTestLoop')


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank`` to a tool's parser."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_cfg.max_epochs=2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help='job launcher')
    # torchrun < 2.0 passes --local-rank / --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_runner_config(args: argparse.Namespace) -> Config:
    """Register alpro, read ``args.config`` with the common options folded
    in, and start the process group the launcher asks for.

    The work dir defaults to ``work_dirs/<config name>``.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    init_distributed(cfg.launcher)
    return cfg


def amp_available() -> bool:
    """Whether ``--amp`` can take effect (a CUDA device); warns if not."""
    if torch.cuda.is_available():
        return True
    print_log(
        '--amp ignored: mixed precision needs a CUDA device',
        logger='current',
        level=logging.WARNING)
    return False


def use_bf16(optim_wrapper: dict) -> dict:
    """Switch an ``optim_wrapper`` config to bf16 autocast (CUDA).

    alpro's ``SyncFreeOptimWrapper`` takes ``dtype='bfloat16'``; MMEngine's
    plain ``OptimWrapper`` becomes its ``AmpOptimWrapper`` in bf16.
    """
    if optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper':
        optim_wrapper['type'] = 'AmpOptimWrapper'
    optim_wrapper['dtype'] = 'bfloat16'
    return optim_wrapper


def use_bf16_evaluation(loop_cfg: Optional[dict]) -> bool:
    """Ask a val/test loop config for bf16 autocast.

    alpro's retrieval loops take ``dtype='bfloat16'``; MMEngine's own
    ``ValLoop``/``TestLoop`` offer float16 only (``fp16=True``), so they are
    left as they are. Returns whether the loop was switched.
    """
    if not loop_cfg or str(loop_cfg.get('type', '')).split('.')[-1] \
            not in _DTYPE_LOOPS:
        return False
    loop_cfg['dtype'] = 'bfloat16'
    return True


def use_compile_hook(cfg: Config) -> Config:
    """Turn MMEngine's ``compile`` config key into alpro's ``CompileHook``.

    ``compile = True`` or ``compile = dict(mode=..., backend=...)`` makes
    MMEngine's Runner compile the whole ``train_step``, where TorchDynamo
    fails in the optimiser; the key is removed and a ``CompileHook`` with
    the same ``torch.compile`` options appended to ``custom_hooks`` (it
    compiles the model's ``loss``). ``compile = False`` or no key: nothing.
    """
    options = cfg.pop('compile', None)
    if not options:
        return cfg
    options = {} if options is True else dict(options)
    cfg.custom_hooks = [
        *cfg.get('custom_hooks', []),
        dict(type='CompileHook', **options)
    ]
    return cfg
