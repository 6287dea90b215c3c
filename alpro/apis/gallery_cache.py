"""A gallery's video embeddings on disk: ``<name>.safetensors`` (the
tensors) and ``<name>.json`` (paths, sizes, mtimes, clip ranges, skipped
files, the model's config, checkpoint and weights fingerprint)."""
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
from safetensors.torch import load_file, save_file
from torch import nn

__all__ = ['GalleryCache', 'cache_files', 'model_fingerprint', 'file_stamp']

VERSION = 1


def cache_files(cache: Union[str, Path]) -> Tuple[Path, Path]:
    """``(<name>.safetensors, <name>.json)`` of ``cache`` (given with
    either ending or none)."""
    cache = Path(cache)
    if cache.suffix in ('.safetensors', '.json'):
        cache = cache.with_suffix('')
    return (cache.parent / f'{cache.name}.safetensors',
            cache.parent / f'{cache.name}.json')


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the model's tensors (names, dtypes, shapes and bytes) and
    of its config's test pipeline and ``test_clips``: what the embeddings
    depend on."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)}'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    cfg = getattr(model, 'cfg', None)
    if cfg is not None:
        pipeline = cfg.test_dataloader.dataset.pipeline
        digest.update(repr(pipeline).encode())
        digest.update(repr(cfg.model.get('test_clips', 1)).encode())
    return digest.hexdigest()


def file_stamp(path: str) -> Optional[Tuple[int, int]]:
    """``(size, mtime_ns)`` of a file; None when it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


class GalleryCache:
    """The embeddings and records of a gallery, in gallery order.

    Attributes:
        embeddings: ``(N, E)`` float32, normalised; None when empty.
        entries: N dicts ``path``, ``size``, ``mtime_ns``, ``clip``.
        skipped: dicts ``path``, ``reason``, ``size``, ``mtime_ns`` (no
            ``size`` for a file that is missing).
        meta: ``config``, ``checkpoint``, ``fingerprint``.
    """

    def __init__(self,
                 embeddings: Optional[torch.Tensor] = None,
                 entries: Optional[List[dict]] = None,
                 skipped: Optional[List[dict]] = None,
                 meta: Optional[Dict[str, Optional[str]]] = None) -> None:
        self.embeddings = embeddings
        self.entries = entries or []
        self.skipped = skipped or []
        self.meta = meta or {}

    @classmethod
    def load(cls, cache: Union[str, Path]) -> Optional['GalleryCache']:
        """The cache at ``cache``; None when its files do not exist."""
        tensors, records = cache_files(cache)
        if not records.is_file():
            return None
        if not tensors.is_file():
            raise FileNotFoundError(
                f'{tensors} is missing while {records} exists: delete '
                f'{records} to rebuild the cache')
        data = json.loads(records.read_text())
        if data.get('version') != VERSION:
            raise ValueError(f'{records}: cache version '
                             f'{data.get("version")}, this code reads '
                             f'{VERSION}; delete it to rebuild')
        embeddings = load_file(str(tensors)).get('embeddings')
        entries = data['entries']
        if len(entries) != (0 if embeddings is None else len(embeddings)):
            raise ValueError(f'{records} lists {len(entries)} videos but '
                             f'{tensors} holds other embeddings; delete both'
                             ' to rebuild')
        for entry in entries:
            entry['clip'] = tuple(entry['clip'])
        return cls(embeddings, entries, data['skipped'], data['meta'])

    def save(self, cache: Union[str, Path]) -> None:
        """Write both files (the JSON last: it names a complete cache)."""
        tensors, records = cache_files(cache)
        tensors.parent.mkdir(parents=True, exist_ok=True)
        save_file({} if self.embeddings is None else
                  {'embeddings': self.embeddings.contiguous()}, str(tensors))
        records.write_text(
            json.dumps(
                dict(
                    version=VERSION,
                    meta=self.meta,
                    entries=self.entries,
                    skipped=self.skipped),
                indent=1))
