"""The files and folders a run reads, checked before any work.

A config names its inputs in a few kinds of entries: a dataset's
``ann_file``, ``data_prefix`` (folders, under ``data_root``) and other
``*_file`` entries; a tokenizer's ``path``; weights (``pretrained``,
``checkpoint``, ``load_from``). :func:`check_required_paths` finds those of
the parts a tool will build, and reports every missing one at once, one line
each, with the command that makes it. Relative paths are read from the
working directory, as the Runner reads them, and the report says which
directory that was.
"""
import glob
import os
import os.path as osp
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Sequence

from mmengine.config import Config

__all__ = [
    'MissingInputsError', 'RequiredPath', 'check_required_paths',
    'required_paths'
]

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_DEMO_ROOT = osp.join('data', 'demo')
#: model entries that hold weights, checked only where weights are loaded
_WEIGHT_KEYS = ('pretrained', 'checkpoint')


class MissingInputsError(FileNotFoundError):
    """Inputs of a run that are not on disk; the message has one line each.

    Attributes:
        missing: the :class:`RequiredPath` of each.
    """

    def __init__(self, message: str, missing: List['RequiredPath']) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass
class RequiredPath:
    """A path a config names.

    Attributes:
        path: as written in the config.
        key: where, e.g. ``train_dataloader.dataset.ann_file``.
        kind: what it is, for the message (``video folder``, ...).
        folder: whether it must be a folder (else a file or a folder).
    """
    path: str
    key: str
    kind: str
    folder: bool = False


def _usable(value: Any) -> bool:
    # URLs are refused by the loaders themselves; patterns (shards) are
    # expanded by the datasets
    return (isinstance(value, str) and bool(value) and '://' not in value
            and not any(c in value for c in '{*?['))


def _join(root: Optional[str], path: str) -> str:
    return osp.join(root, path) if root and not osp.isabs(path) else path


def _dataset_paths(node: Any,
                   key: str,
                   root: Optional[str] = None) -> Iterator[RequiredPath]:
    """The paths of a dataset config, wrappers and lists included; MMEngine
    joins ``ann_file`` and ``data_prefix`` to ``data_root``."""
    if isinstance(node, (list, tuple)):
        for index, child in enumerate(node):
            yield from _dataset_paths(child, f'{key}.{index}', root)
        return
    if not isinstance(node, dict):
        return
    root = node.get('data_root') or root
    if _usable(node.get('data_root')):
        yield RequiredPath(node['data_root'], f'{key}.data_root', 'data root',
                           True)
    for name, value in node.items():
        here = f'{key}.{name}'
        if name == 'ann_file' and _usable(value):
            yield RequiredPath(_join(root, value), here, 'annotation file')
        elif name == 'data_prefix' and isinstance(value, dict):
            for kind, prefix in value.items():
                if _usable(prefix):
                    yield RequiredPath(
                        _join(root, prefix), f'{here}.{kind}', {
                            'video': 'video folder',
                            'img': 'image folder'
                        }.get(kind, f'{kind} folder'), True)
        elif name.endswith('_file') and _usable(value):
            yield RequiredPath(value, here, name.replace('_', ' '))
        elif isinstance(value, (dict, list, tuple)) and name != 'pipeline':
            yield from _dataset_paths(value, here, root)


def _model_paths(node: Any, key: str, weights: bool) -> Iterator[RequiredPath]:
    """The paths of a model config: tokenizers, ``*_file`` entries and,
    with ``weights``, ``pretrained`` / ``checkpoint`` entries."""
    if isinstance(node, (list, tuple)):
        for index, child in enumerate(node):
            yield from _model_paths(child, f'{key}.{index}', weights)
        return
    if not isinstance(node, dict):
        return
    for name, value in node.items():
        here = f'{key}.{name}'
        if name == 'path' and key.endswith('tokenizer') and _usable(value):
            yield RequiredPath(value, here, 'tokenizer', True)
        elif name.endswith('_file') and _usable(value):
            yield RequiredPath(value, here, name.replace('_', ' '))
        elif name in _WEIGHT_KEYS and _usable(value):
            if weights:
                yield RequiredPath(
                    value, here, 'checkpoint'
                    if name == 'checkpoint' else 'pretrained weights')
        elif isinstance(value, (dict, list, tuple)):
            yield from _model_paths(value, here, weights)


def required_paths(cfg: Config,
                   dataloaders: Sequence[str],
                   weights: bool = True,
                   checkpoint: Optional[str] = None) -> List[RequiredPath]:
    """The paths a run of ``cfg`` reads.

    Args:
        cfg: the config, ``--cfg-options`` merged.
        dataloaders: the dataloader entries the run builds, e.g.
            ``('train_dataloader', 'val_dataloader')``.
        weights: include the model's ``pretrained`` and ``checkpoint``
            entries (loaded in training; a test loads the whole model from
            its checkpoint instead).
        checkpoint: a checkpoint the run loads (``load_from``, the one to
            resume from or to test).

    Returns:
        one :class:`RequiredPath` per entry, in config order.
    """
    found = list(_model_paths(cfg.get('model'), 'model', weights))
    for name in dataloaders:
        loader = cfg.get(name)
        if isinstance(loader, dict):
            found += _dataset_paths(loader.get('dataset'), f'{name}.dataset')
    if _usable(checkpoint):
        found.append(RequiredPath(checkpoint, 'checkpoint', 'checkpoint'))
    return found


def _shown(path: str) -> str:
    """``path`` relative to the working directory where it lies inside."""
    relative = osp.relpath(osp.abspath(path))
    return path if relative.startswith('..') else relative


def _tool(script: str) -> str:
    """How to name one of alpro's tools from the working directory."""
    return _shown(osp.join(REPO, script))


def _train_command(path: str, config_file: Optional[str],
                   prefer: str) -> Optional[str]:
    """The train command that writes the checkpoint ``path``: the config
    named like its work dir (``work_dirs/NAME/epoch_N.pth``), looked for
    next to ``config_file``, then under ``configs/``; else the config next
    to ``config_file`` whose name holds ``prefer``."""
    parts = osp.normpath(path).split(os.sep)
    folders = [osp.dirname(osp.abspath(config_file))] if config_file else []
    folders.append(osp.join(REPO, 'configs'))
    names = [f'{parts[-2]}.py'] if len(parts) >= 2 else []
    for name in names:
        for folder in folders:
            matches = sorted(
                glob.glob(osp.join(folder, '**', name), recursive=True))
            if matches:
                return (f'python {_tool("tools/train.py")} '
                        f'{_shown(matches[0])}')
    if config_file and prefer:
        matches = sorted(
            glob.glob(
                osp.join(
                    osp.dirname(osp.abspath(config_file)), f'*{prefer}*.py')))
        if matches:
            return (f'python {_tool("tools/train.py")} {_shown(matches[0])}'
                    ' (then point the config at the checkpoint it writes)')
    return None


def _how_to_make(required: RequiredPath, config_file: Optional[str]) -> str:
    """The command (or the document) that makes a missing path."""
    path = osp.normpath(_shown(required.path))
    demo = path == _DEMO_ROOT or path.startswith(_DEMO_ROOT + os.sep)
    if required.kind == 'entity file':
        sources = ('data/demo/annotations/results_demo_train.csv '
                   'data/demo/annotations/cc3m_demo.json'
                   if demo else 'ANN_FILE [ANN_FILE ...]')
        return (f'python {_tool("tools/data/build_entity_vocab.py")} '
                f'{sources} --out {required.path}')
    if demo and required.kind not in ('checkpoint', 'pretrained weights'):
        return (f'python {_tool("tools/data/make_demo_data.py")} '
                f'--out {_DEMO_ROOT}')
    if required.kind in ('checkpoint', 'pretrained weights'):
        command = _train_command(
            required.path, config_file,
            'prompter' if 'prompter' in required.key else '')
        if command:
            return command
        if required.key == 'checkpoint' and config_file:
            return (f'python {_tool("tools/train.py")} {config_file} writes '
                    'one (work_dirs/CONFIG_NAME/epoch_N.pth)')
        return ('a local file: alpro never downloads (README.md, "Weights '
                'load from local files only"; docs/checkpoints.md)')
    if required.kind == 'tokenizer':
        return ('save a Hugging Face fast tokenizer there '
                '(README.md, "Weights load from local files only")')
    return 'docs/data.md lists the forms and where each comes from'


def check_required_paths(cfg: Config,
                         dataloaders: Sequence[str],
                         weights: bool = True,
                         checkpoint: Optional[str] = None,
                         config_file: Optional[str] = None) -> None:
    """Raise, naming every missing input of a run, before any work.

    Args: as :func:`required_paths`; ``config_file`` finds the config that
        trains a missing checkpoint (next to it).

    Raises:
        MissingInputsError: one line per missing path (the same path named
            by several entries once), with the entry, and what makes it.
    """
    lines, seen, missing = [], set(), []
    for required in required_paths(cfg, dataloaders, weights, checkpoint):
        path = osp.expanduser(required.path)
        there = osp.isdir(path) if required.folder else osp.exists(path)
        if there or path in seen:
            continue
        seen.add(path)
        missing.append(required)
        lines.append(f'  missing {required.kind} {required.path} '
                     f'({required.key}): '
                     f'{_how_to_make(required, config_file)}')
    if missing:
        raise MissingInputsError(
            f'{len(missing)} input(s) of this run not found (relative paths '
            f'are read from {os.getcwd()}, the working directory):\n' +
            '\n'.join(lines), missing)
