"""Read WebDataset tar shards one at a time, with a report per shard.

The tar parsing is the ``webdataset`` library's (``tar_file_expander`` and
``group_by_keys``); this module adds what a training run needs around it:
shard lists from a brace pattern or a list, opening any URL the library
opens (local paths, ``file:``, ``pipe:``, ``http(s)``, ...) and every other
scheme through ``fsspec`` (``s3://``, ``gs://``, ``memory://``, ...), a clear
error naming a shard that cannot be opened, and a :class:`ShardReport` that
counts the samples of each shard and records a truncated or unreadable tar
instead of losing it silently.
"""
import importlib
import os.path as osp
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Dict, Iterator, List, Optional, Sequence, Union
from urllib.parse import urlparse

#: a tar's end: two zero blocks of 512 bytes
END_OF_ARCHIVE = 1024

__all__ = [
    'ShardOpenError', 'ShardReport', 'expand_shards', 'open_shard',
    'iter_shard'
]


def _webdataset(module: str) -> ModuleType:
    """The module ``webdataset.<module>``, or an error that says how to
    install the library."""
    try:
        return importlib.import_module(f'webdataset.{module}')
    except ImportError:
        raise ImportError(
            'reading tar shards needs the webdataset library: '
            '`pip install webdataset` (alpro lists it in install_requires)'
        ) from None


class ShardOpenError(OSError):
    """A shard cannot be opened (missing file, failed command, no access).

    Args:
        url: the shard.
        problem: what went wrong.
    """

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f'cannot open shard {url}: {problem}')
        self.url = url


@dataclass
class ShardReport:
    """What reading one shard gave.

    Attributes:
        url: the shard.
        samples: samples read from the tar (good and bad).
        bad: bad samples skipped, by reason.
        bad_keys: the keys of the bad samples, in order.
        truncated: why reading stopped early (a truncated or corrupt tar),
            or ``None`` when the tar was read to its end.
    """

    url: str
    samples: int = 0
    bad: Dict[str, int] = field(default_factory=dict)
    bad_keys: List[str] = field(default_factory=list)
    truncated: Optional[str] = None
    #: the reader is done with the tar (its end, or where it broke)
    read_done: bool = False
    #: samples the user has decoded or skipped (with a shuffle buffer,
    #: the last ones come after the tar was read)
    processed: int = 0

    @property
    def complete(self) -> bool:
        """Read to its end or break, and every sample decoded or skipped:
        the counts are final."""
        return self.read_done and self.processed == self.samples

    def add_bad(self, key: str, reason: str) -> None:
        """Count the bad sample ``key``."""
        self.bad[reason] = self.bad.get(reason, 0) + 1
        self.bad_keys.append(key)

    @property
    def num_bad(self) -> int:
        return sum(self.bad.values())

    def summary(self) -> str:
        """One line for the log, e.g. ``'shard a/00001.tar: 98 samples, 2 bad
        skipped (1 empty caption, 1 cannot open: ...)'``."""
        text = f'shard {self.url}: {self.samples} samples'
        if self.bad:
            reasons = ', '.join(f'{n} {reason}'
                                for reason, n in sorted(self.bad.items()))
            text += f', {self.num_bad} bad skipped ({reasons})'
        if self.truncated is not None:
            text += (f'; truncated or corrupt after {self.samples} samples, '
                     f'the rest of the shard is lost: {self.truncated}')
        return text


def expand_shards(shards: Union[str, Sequence[str]]) -> List[str]:
    """The shard URLs of a brace pattern (``'data/{00000..00099}.tar'``;
    ``'::'`` joins several patterns) or of a list of patterns.

    Raises:
        ValueError: no shard at all.
    """
    expand = _webdataset('shardlists').expand_urls
    patterns = [shards] if isinstance(shards, str) else list(shards)
    urls = [url for pattern in patterns for url in expand(pattern)]
    if not urls:
        raise ValueError(f'no shard in {shards!r}: give a brace pattern such '
                         "as 'data/shards/{00000..00099}.tar' or a list")
    return urls


def _is_local(url: str) -> bool:
    scheme = urlparse(url).scheme
    # a Windows drive letter parses as a one-letter scheme
    return scheme in ('', 'file') or len(scheme) == 1


def local_path(url: str) -> Optional[str]:
    """The file of a local shard URL (a path or ``file:``), else None."""
    if not _is_local(url):
        return None
    parsed = urlparse(url)
    return parsed.path if parsed.scheme == 'file' else url


def missing_local_shards(urls: Sequence[str]) -> List[str]:
    """The local shards (paths, ``file:`` URLs) that are not files."""
    return [
        url for url in urls
        if local_path(url) is not None and not osp.isfile(local_path(url))
    ]


def open_shard(url: str) -> IO[bytes]:
    """A binary stream of the shard ``url``.

    Schemes ``webdataset.gopen`` knows (none, ``file``, ``pipe``, ``http``,
    ``https``, ``gs``, ...) open through it; any other through
    ``fsspec.open``.

    Raises:
        ShardOpenError: the shard cannot be opened.
    """
    gopen = _webdataset('gopen')
    scheme = urlparse(url).scheme
    try:
        if _is_local(url) or scheme in gopen.gopen_schemes:
            return gopen.gopen(url, 'rb')
        import fsspec
        return fsspec.open(url, 'rb').open()
    except ImportError as error:
        raise ShardOpenError(
            url, f'{error}; `pip install fsspec` and the '
            'package of its file system') from None
    except Exception as error:
        raise ShardOpenError(url, f'{type(error).__name__}: {error}') from None


class _TailStream:
    """A read-only stream that keeps the last bytes it passed on.

    Python's ``tarfile`` ends a stream quietly when a header is cut short
    or missing, so a tar cut between two members reads as complete. A tar
    ends with two zero blocks (POSIX; tarfile, GNU tar and webdataset's
    writer all write them); reading the stream to its end and checking that
    its last bytes are that marker tells a whole tar from a cut one.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.tail = b''

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        # only the data's last bytes: no copy of a whole member per read
        self.tail = (self.tail + data[-END_OF_ARCHIVE:])[-END_OF_ARCHIVE:]
        return data

    def ends_with_marker(self) -> bool:
        """Read what is left; True when the stream ends with the marker."""
        while self.read(1 << 16):
            pass
        return self.tail == bytes(END_OF_ARCHIVE)

    def close(self) -> None:
        self.stream.close()


def _first_arg(error: BaseException) -> str:
    """An error's message without what webdataset appended (`` @ stream``,
    the stream and url arguments)."""
    first = str(error.args[0]) if error.args else type(error).__name__
    return f'{type(error).__name__}: {first.split(" @ ")[0]}'


def iter_shard(url: str, report: ShardReport) -> Iterator[dict]:
    """The samples of one shard, as webdataset groups them: dicts with
    ``__key__``, ``__url__`` and one ``bytes`` value per file extension
    (``'mp4'``, ``'txt'``, ``'json'``, ...).

    ``report.samples`` counts them. A tar that ends early or cannot be parsed
    stops the shard: the samples read before are kept, and
    ``report.truncated`` says why (a sample cut off at that point comes out
    incomplete, and its user counts it as bad). A tar without its
    end-of-archive marker counts as cut too (Python's ``tarfile`` would
    take a cut between members for the end).

    Raises:
        ShardOpenError: the shard cannot be opened.
    """
    tariterators = _webdataset('tariterators')
    stream = _TailStream(open_shard(url))

    def stop(error: Exception) -> bool:
        # webdataset's handler: record the first error, stop the shard
        if report.truncated is None:
            report.truncated = _first_arg(error)
        return False

    read_to_end = False
    try:
        files = tariterators.tar_file_expander([dict(url=url, stream=stream)],
                                               handler=stop)
        for sample in tariterators.group_by_keys(files, handler=stop):
            report.samples += 1
            yield sample
        if report.truncated is None and not stream.ends_with_marker():
            report.truncated = ('no end-of-archive marker: the tar is cut '
                                'between two members or in a header')
        read_to_end = True
    finally:
        try:
            stream.close()
        except Exception as error:
            # a `pipe:` command that failed; not one the reader left early
            # (the command may then die of a broken pipe)
            if read_to_end:
                raise ShardOpenError(url, _first_arg(error)) from None
