"""Read ALPRO's pickled WebVid DataFrame without running code from the file.
"""
import pickle
from typing import FrozenSet, Tuple

from .errors import AnnotationError

__all__ = ['load_dataframe', 'DATAFRAME_GLOBALS']

#: every global a pickled DataFrame of strings and integers refers to, under
#: the names pandas 1.x (ALPRO's release), 2.x and 3.x and numpy 1.x / 2.x
#: give them; nothing else is imported while reading.
DATAFRAME_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset({
    # plain types
    ('builtins', 'slice'),
    ('__builtin__', 'slice'),
    ('_codecs', 'encode'),  # bytes in protocol 2
    ('copyreg', '_reconstructor'),  # protocols 0 and 1
    ('builtins', 'object'),
    # numpy arrays and scalars
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.numeric', '_frombuffer'),
    # the frame, its axes and its blocks
    ('pandas', 'DataFrame'),
    ('pandas.core.frame', 'DataFrame'),
    ('pandas', 'Index'),
    ('pandas', 'RangeIndex'),
    ('pandas.core.indexes.base', 'Index'),
    ('pandas.core.indexes.base', '_new_Index'),
    ('pandas.core.indexes.range', 'RangeIndex'),
    ('pandas.core.indexes.numeric', 'Int64Index'),
    ('pandas.core.indexes.numeric', 'UInt64Index'),
    ('pandas.core.indexes.numeric', 'Float64Index'),
    ('pandas.core.internals.managers', 'BlockManager'),
    ('pandas.core.internals', 'BlockManager'),
    ('pandas.core.internals.blocks', 'new_block'),
    ('pandas._libs.internals', '_unpickle_block'),
    # string columns (pandas >= 1.0 'string' dtype, the default from 3.0)
    ('pandas', 'StringDtype'),
    ('pandas.arrays', 'StringArray'),
    ('pandas.core.arrays.string_', 'StringDtype'),
    ('pandas.core.arrays.string_', 'StringArray'),
    ('pandas._libs.arrays', '__pyx_unpickle_NDArrayBacked'),
})


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`DATAFRAME_GLOBALS`."""


def _compat():
    """pandas' own map of renamed classes and its compatible unpickler."""
    try:
        from pandas.compat import pickle_compat
    except ImportError:  # pragma: no cover (moved in a future pandas)
        return {}, None
    return (getattr(pickle_compat, '_class_locations_map',
                    {}), getattr(pickle_compat, 'Unpickler', None))


def _admit(ann_file: str, module: str, name: str) -> Tuple[str, str]:
    """Refuse a global outside :data:`DATAFRAME_GLOBALS`; else the name to
    import in this numpy."""
    if (module, name) not in DATAFRAME_GLOBALS:
        raise RefusedGlobal(
            f"refusing to load the global '{module}.{name}': ALPRO's WebVid "
            'pickle holds a pandas DataFrame of strings and numbers only, and '
            'a pickle can run code when it is read. Use the official CSV '
            f'form of WebVid instead of {ann_file}, or convert it with a '
            'script you trust.')
    import numpy
    if module.startswith('numpy.core') and int(
            numpy.__version__.split('.')[0]) >= 2:
        module = 'numpy._core' + module[len('numpy.core'):]
    return module, name


def _restricted(base: type, ann_file: str, renames: dict) -> type:
    """``base`` (an Unpickler class) with :func:`_admit` in ``find_class``.
    """

    class Restricted(base):

        def find_class(self, module: str, name: str) -> object:
            module, name = _admit(ann_file, module, name)
            if base is pickle.Unpickler:  # pandas' own applies its renames
                module, name = renames.get((module, name), (module, name))
            return super().find_class(module, name)

    return Restricted


def load_dataframe(ann_file: str):
    """Load a pickled pandas DataFrame, admitting only
    :data:`DATAFRAME_GLOBALS`.

    As ``pandas.read_pickle`` does, the fast C unpickler goes first and
    pandas' compatible one (which knows classes renamed since pandas 1.x)
    takes over when a class is not where the file says.

    Args:
        ann_file: the ``.pkl`` (ALPRO's ``train.pkl`` / ``val.pkl``).

    Returns:
        pandas.DataFrame

    Raises:
        ImportError: pandas is not installed (the message says what to do).
        AnnotationError: the file names any other global, is not a pickle,
            or does not hold a DataFrame.
    """
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"{ann_file} is ALPRO's pickled pandas DataFrame: reading it "
            'needs pandas (`pip install pandas`). Without pandas, use the '
            'official WebVid CSV (results_2M_train.csv) as ann_file.'
        ) from error
    renames, compat_unpickler = _compat()
    tries: Tuple[type, ...] = (pickle.Unpickler, )
    if compat_unpickler is not None:
        tries += (compat_unpickler, )
    for attempt, base in enumerate(tries):
        try:
            with open(ann_file, 'rb') as f:
                frame = _restricted(base, ann_file, renames)(f).load()
            break
        except RefusedGlobal as error:
            raise AnnotationError(ann_file, None, str(error)) from None
        except (pickle.UnpicklingError, EOFError) as error:
            raise AnnotationError(
                ann_file, None,
                f'not a readable pickle ({error or type(error).__name__})'
            ) from None
        except (AttributeError, ImportError, TypeError):
            if attempt == len(tries) - 1:
                raise
    if not isinstance(frame, pandas.DataFrame):
        raise AnnotationError(
            ann_file, None,
            f'expected a pickled pandas DataFrame, got {type(frame).__name__}')
    return frame
