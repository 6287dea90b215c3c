"""alpro: ALPRO video-and-language pre-training as an MMEngine framework."""
from .plugins import load_plugins
from .utils import checkpoint  # noqa: F401  (safe, offline loading)
from .version import __version__

__all__ = ['__version__', 'load_plugins']

# Third-party plugins register into our registries; import them once, now.
load_plugins()
