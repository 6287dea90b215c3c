"""The tool scripts under ``tools/`` as modules, for the tests that call
their functions in this process. ``tools/`` is not a package: a script is
loaded from its file, never by putting its folder on ``sys.path``."""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_tool(path: str) -> ModuleType:
    """The tool script at ``path`` as a module, executed once.

    Args:
        path: the script relative to the repository root, e.g.
            ``'tools/analysis/motion_probe.py'``.

    Returns:
        the module, kept in ``sys.modules`` under a name made from its path
        (``alpro_tools__analysis__motion_probe``) so that a second call
        returns the same module, ``dataclasses`` and ``pickle`` find it, and
        a process forked from this one unpickles its functions. A process
        started with ``spawn`` does not know that name.
    """
    relative = Path(path)
    file = REPO / relative
    if relative.parts[:1] != ('tools', ) or file.suffix != '.py':
        raise ValueError(f'{path!r} is not a tool script: expected a path '
                         "like 'tools/analysis/motion_probe.py'")
    if not file.is_file():
        raise FileNotFoundError(f'no tool script {path!r} under {REPO}')
    name = '__'.join(('alpro_tools', *relative.with_suffix('').parts[1:]))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    # registered before it runs: a dataclass in it looks its module up
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
