"""What the train and test tools share: common options, config loading,
errors a user can act on, a readable console."""
import argparse
import contextlib
import glob
import logging
import os
import os.path as osp
import sys
from typing import Iterator, Optional, Tuple, Type

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger, print_log
from mmengine.runner import Runner

from .config_overrides import ConfigOverrideError, apply_overrides
from .distributed import init_distributed
from .log_filters import quiet_console
from .required_paths import MissingInputsError, RequiredPath
from .setup_env import register_all_modules

__all__ = [
    'ToolRunner', 'add_runner_arguments', 'amp_available',
    'load_runner_config', 'refuse_checkpoints_in_work_dir', 'reported_errors',
    'use_bf16', 'use_bf16_evaluation', 'use_compile_hook'
]

#: errors a user causes and fixes from the message alone: reported in a few
#: lines, without a traceback (unless ``--debug``)
USER_ERRORS = (ConfigOverrideError, FileNotFoundError, FileExistsError)
#: those raised by the tools' own checks, whose message is complete
_CHECKS = (ConfigOverrideError, MissingInputsError, FileExistsError)

#: the loops that take ``dtype`` (alpro's retrieval loops)
_DTYPE_LOOPS = ('RetrievalValLoop', 'RetrievalTestLoop')


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank`` to a tool's parser."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the Python traceback of a missing input or a refused '
        'option (reported in a few lines otherwise)')
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


def add_inference_arguments(parser: argparse.ArgumentParser,
                            videos: bool = True) -> None:
    """The options of the inference tools (``tools/search.py``,
    ``tools/answer.py``, ``tools/demo/app.py``): ``--device``, ``--amp``,
    ``--debug`` and, with ``videos``, ``--batch-size`` and ``--num-workers``
    for embedding many videos."""
    if videos:
        parser.add_argument(
            '--batch-size',
            type=int,
            default=8,
            help='videos per forward pass (embedding, VTM re-ranking)')
        parser.add_argument(
            '--num-workers',
            type=int,
            default=2,
            help='video decoding processes (0: in this one)')
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast (CUDA)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='cpu, cuda, cuda:1, ... (default: cuda if there is one)')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of a refused input')


def load_runner_config(args: argparse.Namespace) -> Config:
    """Register alpro, read ``args.config`` with the common options folded
    in, and start the process group the launcher asks for.

    The work dir defaults to ``work_dirs/<config name>``. ``--cfg-options``
    are merged by :func:`~alpro.utils.config_overrides.apply_overrides`.

    Raises:
        MissingInputsError: no config file at ``args.config``.
        ConfigOverrideError: an option that would change nothing.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    register_all_modules()
    if not osp.isfile(args.config):
        raise MissingInputsError(
            f'config {args.config} not found (relative paths are read from '
            f'{os.getcwd()}, the working directory; the configs are under '
            'configs/ of the repository)',
            [RequiredPath(args.config, 'config', 'config')])
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        apply_overrides(cfg, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    init_distributed(cfg.launcher)
    return cfg


def refuse_checkpoints_in_work_dir(cfg: Config) -> None:
    """Refuse to start a new run (no ``resume``) in a work dir that holds
    checkpoints, which it would overwrite.

    Raises:
        FileExistsError: names the work dir, its checkpoints and the
            options to pass.
    """
    if cfg.get('resume'):
        return
    work_dir = cfg.work_dir
    found = sorted(
        osp.basename(p)
        for p in glob.glob(osp.join(glob.escape(work_dir), '*.pth')))
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        found.append('last_checkpoint')
    if not found:
        return
    shown = ', '.join(
        found[:4]) + (f' and {len(found) - 4} more' if len(found) > 4 else '')
    raise FileExistsError(
        f'work dir {work_dir} already holds checkpoints ({shown}) that a new '
        'run would overwrite: pass --resume to continue from the latest, '
        '--resume CHECKPOINT to continue from another, --work-dir DIR to '
        'start in another folder, or --overwrite to start over here')


@contextlib.contextmanager
def reported_errors(tool: str,
                    debug: bool = False,
                    errors: Tuple[Type[BaseException], ...] = (),
                    one_line: bool = False) -> Iterator[None]:
    """Report the errors a user fixes from the message alone
    (:data:`USER_ERRORS`, and a tool's own ``errors``) as
    ``TOOL: error: MESSAGE`` on stderr, without a traceback, and exit with
    status 2; ``debug`` re-raises them instead. ``one_line`` joins the lines
    of a message into one. Only rank 0 of a distributed run prints."""
    try:
        yield
    except USER_ERRORS + tuple(errors) as error:
        if debug:
            raise
        if int(os.environ.get('RANK', '0')) == 0:
            where = '' if isinstance(
                error, _CHECKS) else (' (--debug shows where it was raised)')
            message = str(error)
            if one_line:
                message = ' '.join(line.strip()
                                   for line in message.splitlines())
            print(
                f'{tool}: error: {message}{where}',
                file=sys.stderr,
                flush=True)
        sys.exit(2)


class ToolRunner(Runner):
    """MMEngine's Runner with a readable console
    (:func:`~alpro.utils.log_filters.quiet_console`): the environment, the
    config and the hook order go to the log file only, and the stack's
    harmless deprecation notes nowhere."""

    def build_logger(self,
                     log_level='INFO',
                     log_file: Optional[str] = None,
                     **kwargs) -> MMLogger:
        return quiet_console(super().build_logger(log_level, log_file,
                                                  **kwargs))


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
