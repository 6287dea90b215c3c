"""Safe checkpoint loading (``weights_only=True``), atomic saving, no
network, and no tensor skipped for its shape.

MMEngine's local loader calls ``torch.load`` and its remote loaders download.
Importing this module replaces both: local files load through torch's safe
unpickler with nothing unsafe allow-listed, and a checkpoint that holds other
objects is refused with the names of those objects
(:class:`UnsafeCheckpointError`); an empty, truncated or otherwise unreadable
file raises :class:`CorruptCheckpointError`; URLs and model-zoo prefixes
raise, because alpro never downloads at run time.

MMEngine writes a checkpoint straight to its final path; importing this
module makes its local file backend write a temporary file and rename it
(:class:`~alpro.utils.atomic_local_backend.AtomicLocalBackend`), so that a run
killed while saving never leaves a truncated checkpoint behind.

MMEngine's ``load_state_dict`` (behind ``load_from``, ``resume`` and
``init_cfg=dict(type='Pretrained')``) skips a tensor whose shape differs
from the model's and only logs a warning, so a checkpoint can load
"successfully" with parts left at their initial values. Importing this
module replaces it with :func:`load_state_dict`, which raises
:class:`CheckpointShapeError` instead, and summarises missing and unexpected
keys in one line; MMEngine's bare ``print`` of the loader backend becomes a
DEBUG message.
"""
import glob
import logging
import os
import os.path as osp
import pickle
import re
from itertools import chain
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import mmengine.fileio.io
import mmengine.runner
import mmengine.runner.checkpoint
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import CheckpointLoader
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys

from .atomic_local_backend import AtomicLocalBackend

__all__ = [
    'CheckpointShapeError', 'CorruptCheckpointError', 'UnsafeCheckpointError',
    'checkpoint_problem', 'find_resumable_checkpoint',
    'load_checkpoint_safely', 'load_state_dict', 'load_state_dict_checked'
]

REMOTE_PREFIXES = ('http://', 'https://', 'modelzoo://', 'torchvision://',
                   'open-mmlab://', 'openmmlab://', 'mmcls://', 'pavi://',
                   's3://')
# torch's weights-only unpickler names each global it refuses like this
_REFUSED_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')
_UNPICKLER_ERROR = re.compile(r'WeightsUnpickler error:\s*(.+?)(\n\n|$)',
                              re.DOTALL)
# torch's zip reader reports a damaged archive with this prefix
_ZIP_ERROR = 'PytorchStreamReader failed'
_MMAP_ERROR = 'mmap can only be used with files saved with'
_CONVERTER = 'tools/model_converters/alpro_official_to_alpro.py'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects that safe loading refuses to build."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is empty, truncated or not a checkpoint at all."""

    def __init__(self, filename: str, problem: str) -> None:
        self.filename = filename
        self.problem = problem
        super().__init__(
            f'cannot load {filename}: {problem}. The file was not written '
            'completely (a run killed while saving, a full disk, an '
            'interrupted copy) or is not a PyTorch checkpoint. Use an '
            'earlier checkpoint (`tools/train.py CONFIG --resume` without a '
            'path resumes from the newest one that loads) or copy the file '
            'again.')


def _unsafe_message(filename: str, unsafe: List[str]) -> str:
    return (
        f'refusing to load {filename}: besides tensors and plain Python it '
        f'holds {", ".join(unsafe)}, and building those objects could run '
        'code from the file. alpro loads checkpoints only with torch\'s '
        'weights-only unpickler and allow-lists none of these. A checkpoint '
        'released with ALPRO (salesforce/ALPRO or LAVIS) is converted with '
        f'`python {_CONVERTER} IN OUT --config CONFIG`; from any other '
        'source, save the model\'s state dict alone (names to tensors, '
        '`torch.save(model.state_dict(), OUT)`) where the file was made. '
        'alpro\'s own checkpoints never hold such objects (SafeCheckpointHook '
        'keeps the message hub plain).')


def _load(filename: str, map_location, mmap: bool = False) -> Any:
    """``torch.load(weights_only=True)`` with alpro's errors (see
    :func:`load_checkpoint_safely`)."""
    if osp.getsize(filename) == 0:
        raise CorruptCheckpointError(filename, 'it is empty (0 bytes)')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
                filename)
        except (ValueError, RuntimeError):  # not a zip checkpoint
            unsafe = _REFUSED_GLOBAL.findall(str(error))
        if unsafe:
            # torch's own message suggests weights_only=False: not chained
            raise UnsafeCheckpointError(_unsafe_message(filename,
                                                        unsafe)) from None
        found = _UNPICKLER_ERROR.search(str(error))
        reason = found.group(1).strip() if found else type(error).__name__
        raise CorruptCheckpointError(
            filename,
            f'it is not a PyTorch checkpoint (unpickling stops: {reason})'
        ) from None
    except EOFError:
        raise CorruptCheckpointError(filename,
                                     'it ends too early (truncated)') from None
    except RuntimeError as error:
        message = str(error)
        if not message.startswith(_ZIP_ERROR):
            raise
        reason = message.split('. This is an internal miniz error')[0]
        raise CorruptCheckpointError(
            filename, f'the archive is damaged ({reason})') from None


def load_checkpoint_safely(filename: str,
                           map_location: Union[str, Callable, None] = None):
    """Load a local checkpoint with ``torch.load(weights_only=True)``.

    Args:
        filename: local path.
        map_location: as for :func:`torch.load`.

    Raises:
        FileNotFoundError: no such file.
        CorruptCheckpointError: the file is empty, truncated or not a
            checkpoint.
        UnsafeCheckpointError: it holds objects other than tensors and plain
            Python; the message names them and the converter to use.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} not found')
    return _load(filename, map_location)


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be loaded safely, or ``None`` if it can.

    Reads the whole pickled structure but maps the tensors' storage instead
    of reading it, so that checking a large checkpoint is cheap.
    """
    if not osp.isfile(filename):
        return 'no such file'
    try:
        try:
            _load(filename, 'cpu', mmap=True)
        except RuntimeError as error:
            if _MMAP_ERROR not in str(error):  # only the legacy format
                raise
            _load(filename, 'cpu')
    except CorruptCheckpointError as error:
        return error.problem
    except UnsafeCheckpointError:
        return 'it holds objects other than tensors and plain Python'
    return None


def find_resumable_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The newest checkpoint of ``work_dir`` that loads, for ``--resume``.

    The candidates are the file MMEngine's ``last_checkpoint`` names, then
    every ``*.pth`` in ``work_dir`` and in that file's folder, newest
    (modification time) first.

    Returns:
        The first candidate that loads (``None`` if there is none) and, in
        order, ``(path, problem)`` of each newer candidate that does not.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    latest = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            latest = f.read().strip() or None
    folders = {osp.abspath(work_dir)}
    if latest:
        folders.add(osp.dirname(osp.abspath(latest)))
    found = {
        path
        for folder in folders
        for path in glob.glob(osp.join(folder, '*.pth'))
    }
    candidates = sorted(found, key=os.path.getmtime, reverse=True)
    if latest:
        candidates = [latest] + [
            path
            for path in candidates if osp.abspath(path) != osp.abspath(latest)
        ]
    skipped: List[Tuple[str, str]] = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def _refuse_remote(filename: str, map_location=None, **kwargs) -> Any:
    raise RuntimeError(
        f'{filename}: alpro does not download at run time (no network). '
        'Fetch the file beforehand and give its local path.')


CheckpointLoader.register_scheme(
    prefixes='', loader=load_checkpoint_safely, force=True)
CheckpointLoader.register_scheme(
    prefixes=REMOTE_PREFIXES, loader=_refuse_remote, force=True)
register_backend('local', AtomicLocalBackend, force=True, prefixes='')
# forget the plain local backends MMEngine cached before this import
for _key, _backend in list(mmengine.fileio.io.backend_instances.items()):
    if type(_backend) is LocalBackend:
        del mmengine.fileio.io.backend_instances[_key]


class CheckpointShapeError(RuntimeError):
    """Checkpoint tensors whose shapes differ from the model's.

    Attributes:
        mismatched: ``(key, checkpoint shape, model shape)`` of each.
    """

    def __init__(self,
                 mismatched: List[Tuple[str, tuple, tuple]],
                 source: Optional[str] = None) -> None:
        self.mismatched = mismatched
        origin = f' of {source}' if source else ''
        lines = '\n'.join(f'  {key}: checkpoint {list(ckpt)}, model '
                          f'{list(model)}' for key, ckpt, model in mismatched)
        super().__init__(
            f'{len(mismatched)} tensor(s){origin} do not fit the model, so '
            f'none of them was loaded:\n{lines}\nThe checkpoint was made '
            'for a model of other sizes. Build the model it was trained '
            'with (e.g. the backbone arch, img_size or num_frames, '
            'num_answers, num_entities, embed_dim), or delete the keys of a '
            'part you mean to train afresh from the checkpoint. A released '
            'ALPRO checkpoint is converted for a config by '
            'tools/model_converters/alpro_official_to_alpro.py IN OUT '
            '--config CONFIG, which reports every shape.')


def load_state_dict_checked(module: nn.Module,
                            state_dict: Dict[str, torch.Tensor],
                            source: Optional[str] = None) -> _IncompatibleKeys:
    """Load ``state_dict`` into ``module`` non-strictly, but never skip a
    tensor for its shape.

    Every module's load pre-hooks run first (e.g. ``TimeSformer`` resamples
    ``pos_embed`` and ``time_embed`` made for other sizes), then each tensor
    is compared with the model's. The walk over the modules is MMEngine's
    (a model wrapper is unwrapped), so the same hooks run as under
    ``load_from``.

    Args:
        module: the model (or a wrapper of it).
        state_dict: name -> tensor.
        source: where the tensors come from, for the error message.

    Returns:
        The missing keys (of the model, not in ``state_dict``; BatchNorm's
        ``num_batches_tracked`` left out) and the unexpected ones.

    Raises:
        CheckpointShapeError: names each tensor whose shape still differs.
    """
    missing: List[str] = []
    unexpected: List[str] = []
    errors: List[str] = []
    mismatched: List[Tuple[str, tuple, tuple]] = []
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = dict(state_dict)  # the pre-hooks edit this copy

    def load(module: nn.Module, prefix: str = '') -> None:
        if is_model_wrapper(module) or isinstance(module, BaseTTAModel):
            module = module.module
        local_metadata = {} if metadata is None else metadata.get(
            prefix[:-1], {})
        module._load_from_state_dict(state_dict, prefix, local_metadata, True,
                                     missing, unexpected, errors)
        own = chain(module._parameters.items(),
                    ((name, buffer)
                     for name, buffer in module._buffers.items()
                     if name not in module._non_persistent_buffers_set))
        for name, tensor in own:
            value = state_dict.get(prefix + name)
            if tensor is None or not isinstance(value, torch.Tensor):
                continue
            # torch's one tolerance: a 0-d parameter from a 1-element one
            scalar = tensor.dim() == 0 and tuple(value.shape) == (1, )
            if value.shape != tensor.shape and not scalar:
                mismatched.append(
                    (prefix + name, tuple(value.shape), tuple(tensor.shape)))
        for name, child in module._modules.items():
            if child is not None:
                load(child, prefix + name + '.')

    load(module)
    if mismatched:
        raise CheckpointShapeError(mismatched, source)
    if errors:
        raise RuntimeError('\n'.join(errors))
    missing = [k for k in missing if 'num_batches_tracked' not in k]
    return _IncompatibleKeys(missing, unexpected)


def load_state_dict(
        module: nn.Module,
        state_dict: Dict[str, torch.Tensor],
        strict: bool = False,
        logger: Union[str, logging.Logger, None] = 'current') -> None:
    """MMEngine's ``load_state_dict`` with shape mismatches as errors.

    Missing and unexpected keys are one warning line, with their counts
    and first keys (every key at DEBUG level; raised when ``strict``);
    a tensor whose shape differs from the model's raises
    :class:`CheckpointShapeError` (:func:`load_state_dict_checked`).
    Installed in place of ``mmengine.runner.checkpoint.load_state_dict``
    when this module is imported.
    """
    missing, unexpected = load_state_dict_checked(module, state_dict)
    if not missing and not unexpected:
        return
    if strict:
        raise RuntimeError(
            'The model and loaded state dict do not match exactly: '
            f'unexpected key in source state_dict: {", ".join(unexpected)}; '
            f'missing keys in source state_dict: {", ".join(missing)}')
    if get_dist_info()[0] == 0:
        logger = logger or 'current'
        print_log(
            'The model and loaded state dict do not match exactly: '
            f'{_key_summary(missing, "missing")}, '
            f'{_key_summary(unexpected, "unexpected")} (every key at DEBUG '
            'level)',
            logger=logger,
            level=logging.WARNING)
        print_log(
            f'missing keys: {missing}; unexpected keys: {unexpected}',
            logger=logger,
            level=logging.DEBUG)


def _key_summary(keys: List[str], kind: str, shown: int = 3) -> str:
    """``'12 missing (a, b, c, ...)'``: a count and the first few keys."""
    if not keys:
        return f'0 {kind}'
    more = ', ...' if len(keys) > shown else ''
    return f'{len(keys)} {kind} ({", ".join(keys[:shown])}{more})'


def _load_checkpoint_quietly(cls,
                             filename: str,
                             map_location=None,
                             logger: Optional[str] = 'current'):
    """``CheckpointLoader.load_checkpoint`` without MMEngine's bare
    ``print`` of the backend (its callers pass ``logger=None``): the same
    note at DEBUG level."""
    loader = cls._get_checkpoint_loader(filename)
    print_log(
        f'loading checkpoint {filename} with {loader.__name__}',
        logger='current',
        level=logging.DEBUG)
    return loader(filename, map_location)


CheckpointLoader.load_checkpoint = classmethod(_load_checkpoint_quietly)
mmengine.runner.checkpoint.load_state_dict = load_state_dict
mmengine.runner.load_state_dict = load_state_dict
