"""Console output a user can read.

Two filters on an MMEngine logger (the Runner's), each matching messages by
their exact beginning:

* :data:`HARMLESS_MESSAGES` are dropped everywhere: deprecation notes of
  MMEngine 0.10.7 about objects its own ``CheckpointHook`` builds and alpro
  never uses (no user can act on them);
* :data:`LOG_FILE_ONLY_MESSAGES` (the system environment, the whole
  config, the hook order: about 390 lines per run; the note that a
  one-process run converts no SyncBN layer) are dropped from the console
  and kept in the run's log file.
"""
import logging
from typing import Sequence

from mmengine.logging import MMLogger

__all__ = [
    'HARMLESS_MESSAGES', 'LOG_FILE_ONLY_MESSAGES', 'MessageFilter',
    'quiet_console'
]

#: ``CheckpointHook.before_train`` builds a ``FileClient`` (kept "to avoid
#: breaking backward compatibility") whose constructor logs both notes.
HARMLESS_MESSAGES = (
    '"FileClient" will be deprecated in future. Please use io functions in ',
    '"HardDiskBackend" is the alias of "LocalBackend" and the former will be '
    'deprecated in future.',
)
#: ``Runner._log_env``'s and ``Runner.__init__``'s dumps and
#: ``Runner.wrap_model``'s note (leading newlines and dashes of the
#: environment dump are skipped before matching).
LOG_FILE_ONLY_MESSAGES = (
    'System environment:',
    'Config:\n',
    'Hooks will be executed in the following order:',
    'Distributed training is not used, all SyncBatchNorm (SyncBN) layers in '
    'the model will be automatically reverted to BatchNormXd layers if they '
    'are used.',
)


class MessageFilter(logging.Filter):
    """Drop the records whose message begins with one of ``prefixes``.

    Args:
        prefixes: exact beginnings of the messages to drop (leading
            newlines and dashes of a message are skipped).
    """

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg).lstrip('\n-')
        return not message.startswith(self.prefixes)


def _has(filterer: logging.Filterer, prefixes: Sequence[str]) -> bool:
    return any(
        isinstance(f, MessageFilter) and f.prefixes == tuple(prefixes)
        for f in filterer.filters)


def quiet_console(logger: MMLogger) -> MMLogger:
    """Install both filters on ``logger`` (once; calling again adds none).

    Harmless messages are filtered on the logger itself, the dumps on its
    console handlers only (not on its file handler).

    Returns:
        ``logger``.
    """
    if not _has(logger, HARMLESS_MESSAGES):
        logger.addFilter(MessageFilter(HARMLESS_MESSAGES))
    for handler in logger.handlers:
        console = (
            isinstance(handler, logging.StreamHandler)
            and not isinstance(handler, logging.FileHandler))
        if console and not _has(handler, LOG_FILE_ONLY_MESSAGES):
            handler.addFilter(MessageFilter(LOG_FILE_ONLY_MESSAGES))
    return logger
