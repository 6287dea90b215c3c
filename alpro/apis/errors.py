"""What bad input to the inference API raises, besides a missing file: a
tool reports it in one line, a web app shows it, neither crashes."""
from decord import DECORDError

from alpro.utils.checkpoint import (CheckpointShapeError,
                                    CorruptCheckpointError,
                                    UnsafeCheckpointError)
from .model import CheckpointMismatchError

__all__ = ['INPUT_ERRORS', 'INPUT_OR_EXTRA_ERRORS']

#: a checkpoint that does not fit or cannot be read safely, a video that
#: does not decode, an empty query, a cache of another model, ...
INPUT_ERRORS = (ValueError, CheckpointMismatchError, CheckpointShapeError,
                CorruptCheckpointError, UnsafeCheckpointError, DECORDError)

#: those, or an optional extra that is not installed (``gradio``,
#: ``faiss-cpu``): its ImportError says what to install
INPUT_OR_EXTRA_ERRORS = INPUT_ERRORS + (ImportError, )
