"""``--cfg-options`` that take effect.

MMEngine merges ``--cfg-options`` into a config after the config file ran,
so three kinds of override do not do what they say:

* a top-level variable the Runner never reads (``max_epochs = 30`` in a
  config, with ``train_cfg = dict(max_epochs=max_epochs)``): its value was
  copied when the file ran, and changing the variable changes nothing. Such
  an override is refused, naming the entries that hold the copies (those
  holding its value, or a string made from it, whose key the config's
  source assigns from an expression naming the variable), with the command
  line that changes them instead;
* a component's ``type``: the other arguments of the old component stay and
  the new one fails on them, unless ``_delete_`` is used. Here the
  arguments the new component does not take are dropped (and logged);
* ``custom_imports``: MMEngine imports them while it reads the file; given
  on the command line they are imported here.
"""
import inspect
import logging
import pydoc
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import Registry
from mmengine.utils import import_modules_from_strings

__all__ = ['ConfigOverrideError', 'RUNNER_KEYS', 'apply_overrides']

#: top-level keys that MMEngine's ``Runner.from_cfg`` or alpro's tools read
RUNNER_KEYS = frozenset({
    'auto_scale_lr', 'compile', 'custom_hooks', 'custom_imports',
    'data_preprocessor', 'default_hooks', 'default_scope', 'env_cfg',
    'experiment_name', 'launcher', 'load_from', 'log_level', 'log_processor',
    'model', 'model_wrapper_cfg', 'optim_wrapper', 'param_scheduler',
    'randomness', 'resume', 'test_cfg', 'test_dataloader', 'test_evaluator',
    'train_cfg', 'train_dataloader', 'val_cfg', 'val_dataloader',
    'val_evaluator', 'visualizer', 'work_dir'
})
_SHOWN = 8  # copies listed in full in a refusal


class ConfigOverrideError(ValueError):
    """``--cfg-options`` entries that would change nothing the run reads."""


def _text(value: Any, limit: Optional[int] = None) -> str:
    text = value if isinstance(value, str) else repr(value)
    if limit and len(text) > limit:
        text = text[:limit - 3] + '...'
    return text


def _assigned_from(source: str, path: str, name: str) -> bool:
    """Whether a line of the config's ``source`` assigns the key of ``path``
    (its last key that is not a list index) from an expression that names
    ``name``: ``end=max_epochs``, ``'ann_file': f'{data_root}/a.csv'``."""
    key = [part for part in path.split('.') if not part.isdigit()][-1]
    pattern = (rf'(\b{re.escape(key)}\s*=|[\'"]{re.escape(key)}[\'"]\s*:)'
               rf'[^\n]*\b{re.escape(name)}\b')
    return re.search(pattern, source) is not None


def _copies(cfg: Config, name: str) -> Iterator[Tuple[str, Any]]:
    """``(dotted path, value)`` of each entry the Runner reads that holds the
    value of the top-level variable ``name``, or a string made from it."""
    value = cfg[name]
    if value is None or isinstance(value, bool):
        return  # too common to be told from a copy

    def holds(node: Any) -> bool:
        if isinstance(value, str):
            return isinstance(node, str) and len(value) > 1 and value in node
        if isinstance(value, (int, float)):
            return type(node) is type(value) and node == value
        return node == value

    def walk(node: Any, path: str) -> Iterator[Tuple[str, Any]]:
        if holds(node):
            yield path, node
        elif isinstance(node, dict):
            for key, child in node.items():
                yield from walk(child, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for index, child in enumerate(node):
                yield from walk(child, f'{path}.{index}')

    for key in cfg.keys():
        if key in RUNNER_KEYS:
            yield from walk(cfg[key], key)


def _refusal(cfg: Config, key: str, new: Any) -> Optional[str]:
    """Why the override ``key=new`` changes nothing, and what to pass
    instead; ``None`` if it takes effect (or nothing tells)."""
    name, _, rest = key.partition('.')
    if name in RUNNER_KEYS or name not in cfg:
        return None
    old = cfg[name]
    copies = list(_copies(cfg, name))
    source = cfg.text
    if source:  # equal values by coincidence are no copies
        copies = [c for c in copies if _assigned_from(source, c[0], name)]
    if not copies:
        return None
    # the entries named like the variable first: train_cfg.max_epochs
    copies.sort(key=lambda copy: copy[0].rsplit('.', 1)[-1] != name)
    instead = []
    for path, node in copies[:_SHOWN]:
        if rest:
            instead.append(f'{path}.{rest}={_text(new)}')
        elif node == old or not isinstance(new, str):
            instead.append(f'{path}={_text(new)}')
        else:  # a string made from the variable, e.g. f'{data_root}/x'
            instead.append(f'{path}={node.replace(old, new)}')
    more = len(copies) - _SHOWN
    if more > 0:
        instead.append(f'(and {more} more)')
    one = len(copies) == 1
    return (f'--cfg-options {key}={_text(new)} changes nothing: {name!r} is '
            'a variable of the config that the Runner does not read; its '
            f'value {_text(old, 60)} was copied into {len(copies)} '
            f'entr{"y" if one else "ies"} when the config was read. '
            f'Override {"it" if one else "them"} instead: --cfg-options ' +
            ' '.join(instead))


def _lookup(cfg: Config, path: str) -> Any:
    """The entry at a dotted ``path`` (list items by index), or ``None``."""
    first, *parts = path.split('.')
    node = cfg.get(first)
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (isinstance(node, (list, tuple)) and part.isdigit()
              and int(part) < len(node)):
            node = node[int(part)]
        else:
            return None
    return node


def _component_class(name: str) -> Optional[type]:
    """The one class a ``type`` name means in alpro's and MMEngine's
    registries (or as a dotted path); ``None`` if none or several."""
    import mmengine.registry as mmengine_registries

    import alpro.registry as alpro_registries
    found = set()
    for module in (alpro_registries, mmengine_registries):
        for registry in vars(module).values():
            if isinstance(registry, Registry):
                cls = registry.get(name)
                if cls is not None:
                    found.add(cls)
    if not found and '.' in name:
        located = pydoc.locate(name)
        if inspect.isclass(located):
            found.add(located)
    return found.pop() if len(found) == 1 else None


def _drop_foreign_arguments(cfg: Config, path: str, old_type: str,
                            given: List[str]) -> None:
    """After ``path.type`` was overridden, drop the arguments of the old
    component that the new one does not take (``given`` ones stay)."""
    component = _lookup(cfg, path)
    cls = _component_class(component['type'])
    if cls is None:
        return  # the build names an unknown type itself
    parameters = inspect.signature(cls).parameters.values()
    takes = {p.name for p in parameters} | {'type', *given}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        kept = [k for k in component if k not in takes]
        if kept:  # it may take anything: say what it is given
            print_log(
                f'--cfg-options {path}.type={component["type"]}: kept '
                f'{", ".join(kept)} of the config\'s {old_type} (passed on '
                f'through {component["type"]}\'s **kwargs); add '
                f'{path}._delete_=True to start from none of them',
                logger='current',
                level=logging.WARNING)
        return
    dropped = [k for k in list(component) if k not in takes]
    for key in dropped:
        del component[key]
    if dropped:
        print_log(
            f'--cfg-options {path}.type={component["type"]}: dropped '
            f'{", ".join(dropped)} of the config\'s {old_type} '
            f'({component["type"]} takes no such argument)',
            logger='current',
            level=logging.INFO)


def apply_overrides(cfg: Config, options: Dict[str, Any]) -> Config:
    """Merge ``--cfg-options`` into ``cfg`` so that each takes effect.

    Args:
        cfg: the config as read from its file.
        options: dotted key -> value, as MMEngine's ``DictAction`` parses
            them.

    Returns:
        ``cfg``, merged.

    Raises:
        ConfigOverrideError: overrides of top-level variables whose value
            other entries copied; one line each, naming those entries and
            the options that change them.
    """
    refusals = [
        reason for reason in (_refusal(cfg, key, value)
                              for key, value in options.items()) if reason
    ]
    if refusals:
        raise ConfigOverrideError('\n'.join(refusals))
    switched = {}
    for key, value in options.items():
        if key.endswith('.type'):
            path = key[:-len('.type')]
            component = _lookup(cfg, path)
            if (isinstance(component, dict)
                    and component.get('type') not in (None, value)):
                switched[path] = component['type']
    cfg.merge_from_dict(options)
    if any(key.split('.')[0] == 'custom_imports' for key in options):
        import_modules_from_strings(**cfg.custom_imports)
    for path, old_type in switched.items():
        given = [
            key[len(path) + 1:].split('.')[0] for key in options
            if key.startswith(path + '.')
        ]
        _drop_foreign_arguments(cfg, path, old_type, given)
    return cfg
