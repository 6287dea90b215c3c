"""Discovery of third-party plugin packages.

A plugin is a pip-installable package that registers components with alpro's
decorators. It is found in one of two ways:

* ``custom_imports = dict(imports=['my_plugin'])`` in a config (MMEngine), or
* an entry point in the ``alpro.plugins`` group of its distribution, e.g. in
  its ``setup.cfg``::

      [options.entry_points]
      alpro.plugins =
          my_plugin = my_plugin

Entry points are imported once, when :mod:`alpro` is imported. Two
environment variables switch that off:

* ``ALPRO_DISABLE_PLUGIN_AUTOLOAD`` set to a true word (``1``, ``true``,
  ``yes``, ``on``; any case) skips every entry point;
* ``ALPRO_DISABLE_PLUGINS=name1,name2`` skips the entry points of those
  names (each skip is logged).

Any other value of ``ALPRO_DISABLE_PLUGIN_AUTOLOAD`` than a true or a false
word (``0``, ``false``, ``no``, ``off``, empty) is an error naming it.
"""
import os
from importlib.metadata import EntryPoint, entry_points
from typing import Dict, FrozenSet

from mmengine.logging import print_log

__all__ = ['ENTRY_POINT_GROUP', 'PluginImportError', 'load_plugins']

ENTRY_POINT_GROUP = 'alpro.plugins'
DISABLE_ENV = 'ALPRO_DISABLE_PLUGIN_AUTOLOAD'
DISABLE_NAMES_ENV = 'ALPRO_DISABLE_PLUGINS'
_TRUE_WORDS = ('1', 'true', 'yes', 'on')
_FALSE_WORDS = ('', '0', 'false', 'no', 'off')

#: entry-point name -> description of every plugin loaded so far.
_loaded: Dict[str, str] = {}
_scanned = False


class PluginImportError(ImportError):
    """A plugin announced through ``alpro.plugins`` failed to import."""


def _describe(entry_point: EntryPoint) -> str:
    dist = entry_point.dist
    if dist is None:
        return f"'{entry_point.value}'"
    return f"'{entry_point.value}' (distribution {dist.name} {dist.version})"


def autoload_disabled() -> bool:
    """Whether ``ALPRO_DISABLE_PLUGIN_AUTOLOAD`` holds a true word.

    Raises:
        ValueError: it holds neither a true nor a false word.
    """
    value = os.environ.get(DISABLE_ENV, '').strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ValueError(
        f'{DISABLE_ENV}={os.environ[DISABLE_ENV]!r} is neither true '
        f'({", ".join(_TRUE_WORDS)}) nor false '
        f'({", ".join(w for w in _FALSE_WORDS if w)}, or empty)')


def disabled_plugins() -> FrozenSet[str]:
    """The entry-point names listed in ``ALPRO_DISABLE_PLUGINS`` (comma
    separated, spaces ignored)."""
    names = os.environ.get(DISABLE_NAMES_ENV, '').split(',')
    return frozenset(name.strip() for name in names if name.strip())


def load_plugins(force: bool = False) -> Dict[str, str]:
    """Import every plugin of the ``alpro.plugins`` entry-point group once.

    Args:
        force: import again even if plugins were loaded, or autoload is
            disabled by ``ALPRO_DISABLE_PLUGIN_AUTOLOAD``; the plugins named
            in ``ALPRO_DISABLE_PLUGINS`` stay skipped.

    Returns:
        dict: entry-point name -> description of every plugin loaded.

    Raises:
        PluginImportError: a plugin failed to import; the message names the
            entry point, its distribution and the cause.
        ValueError: ``ALPRO_DISABLE_PLUGIN_AUTOLOAD`` is not a true or false
            word.
    """
    global _scanned
    if not force and (_scanned or autoload_disabled()):
        return dict(_loaded)
    skipped = disabled_plugins()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in _loaded and not force:
            continue
        if entry_point.name in skipped:
            print_log(
                f'alpro: skipped plugin {entry_point.name} = '
                f'{_describe(entry_point)} ({DISABLE_NAMES_ENV})',
                logger='current')
            continue
        try:
            entry_point.load()
        except Exception as error:
            raise PluginImportError(
                f"alpro plugin '{entry_point.name}' = "
                f'{_describe(entry_point)} failed to import: '
                f'{type(error).__name__}: {error}. Fix or uninstall that '
                f'package, set {DISABLE_NAMES_ENV}={entry_point.name} to '
                f'start without it, or {DISABLE_ENV}=1 without any plugin.'
            ) from error
        _loaded[entry_point.name] = _describe(entry_point)
        print_log(
            f'alpro: loaded plugin {entry_point.name} = '
            f'{_loaded[entry_point.name]}',
            logger='current')
    _scanned = True
    return dict(_loaded)
