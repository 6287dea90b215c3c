"""Local files written atomically: a reader finds the old file or the new
one, never a part of the new one.

MMEngine saves a checkpoint by opening the target path for writing and
writing the bytes: a run killed during the write (or a full disk) leaves a
truncated file under the checkpoint's name, and the previous version of that
file is already gone. :class:`AtomicLocalBackend` writes to a temporary file
in the same folder, flushes it to disk and renames it over the target
(``os.replace``, atomic on POSIX and Windows). Importing
:mod:`alpro.utils.checkpoint` makes it MMEngine's backend for local paths, so
that ``Runner.save_checkpoint`` (and every other ``put`` of MMEngine's file
I/O) goes through it.
"""
import os
import os.path as osp
import uuid
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend

__all__ = ['AtomicLocalBackend', 'write_atomically']


def _sync_folder(folder: str) -> None:
    """Flush a folder's entries (the rename) to disk where the OS can."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in its folder.

    The temporary file is named ``.<name>.<random>.tmp`` and is removed if
    writing fails (e.g. the disk is full); ``path`` is then left as it was.

    Args:
        path: the file to write (its folder must exist).
        data: the whole content.
    """
    path = osp.abspath(str(path))
    folder, name = osp.split(path)
    temporary = osp.join(folder, f'.{name}.{uuid.uuid4().hex[:12]}.tmp')
    try:
        # 'xb' (not mkstemp) so that the file gets the usual permissions
        with open(temporary, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if osp.exists(temporary):
            os.remove(temporary)
        raise
    _sync_folder(folder)


class AtomicLocalBackend(LocalBackend):
    """MMEngine's ``LocalBackend`` whose ``put`` and ``put_text`` replace
    the target file atomically (see :func:`write_atomically`)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath``, creating its folder if needed."""
        os.makedirs(osp.dirname(osp.abspath(str(filepath))), exist_ok=True)
        write_atomically(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath``, creating its folder if needed."""
        self.put(obj.encode(encoding), filepath)
