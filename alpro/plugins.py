"""Discovery of third-party plugin packages.

A plugin is a pip-installable package that registers components with alpro's
decorators. It is found in one of two ways:

* ``custom_imports = dict(imports=['my_plugin'])`` in a config (MMEngine), or
* an entry point in the ``alpro.plugins`` group of its distribution, e.g. in
  its ``setup.cfg``::

      [options.entry_points]
      alpro.plugins =
          my_plugin = my_plugin

Entry points are imported once, when :mod:`alpro` is imported. Setting
``ALPRO_DISABLE_PLUGIN_AUTOLOAD=1`` turns that off.
"""
import os
from importlib.metadata import EntryPoint, entry_points
from typing import Dict

from mmengine.logging import print_log

__all__ = ['ENTRY_POINT_GROUP', 'PluginImportError', 'load_plugins']

ENTRY_POINT_GROUP = 'alpro.plugins'
DISABLE_ENV = 'ALPRO_DISABLE_PLUGIN_AUTOLOAD'

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


def load_plugins(force: bool = False) -> Dict[str, str]:
    """Import every plugin of the ``alpro.plugins`` entry-point group once.

    Args:
        force: import again even if plugins were loaded, or autoload is
            disabled by ``ALPRO_DISABLE_PLUGIN_AUTOLOAD``.

    Returns:
        dict: entry-point name -> description of every plugin loaded.

    Raises:
        PluginImportError: a plugin failed to import; the message names the
            entry point, its distribution and the cause.
    """
    global _scanned
    if not force and (_scanned or os.environ.get(DISABLE_ENV, '0') == '1'):
        return dict(_loaded)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in _loaded and not force:
            continue
        try:
            entry_point.load()
        except Exception as error:
            raise PluginImportError(
                f"alpro plugin '{entry_point.name}' = "
                f'{_describe(entry_point)} failed to import: '
                f'{type(error).__name__}: {error}. Fix or uninstall that '
                f'package, or set {DISABLE_ENV}=1 to start without plugins.'
            ) from error
        _loaded[entry_point.name] = _describe(entry_point)
        print_log(
            f'alpro: loaded plugin {entry_point.name} = '
            f'{_loaded[entry_point.name]}',
            logger='current')
    _scanned = True
    return dict(_loaded)
