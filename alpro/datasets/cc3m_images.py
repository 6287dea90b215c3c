"""Where the CC-3M downloaders put the image of each row of Google's TSV."""
import json
import math
import os
import os.path as osp
import re
import zlib
from typing import Dict, List, Optional, Set, Tuple

from .errors import AnnotationError, BadRowError

__all__ = ['ImageNames', 'find_image_names', 'list_files', 'url_crc']

#: ``12.jpg``, ``000012.jpg``, ``12_3735928559`` (LAVIS / ClipCap)
FLAT_NAME = re.compile(r'(\d+)(?:_(\d+))?(\.[A-Za-z0-9]+)?')
#: img2dataset's ``files`` output: ``00001/000010012.jpg``
SHARD_NAME = re.compile(r'(\d+)/(\d+)\.(?:jpg|jpeg|png|webp)', re.IGNORECASE)
#: extensions a downloader gives an image ('' : the LAVIS script gives none)
IMAGE_EXTS = ('', '.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp')
LAYOUTS = {
    'index': "'{index}.jpg' (the row index, any padding)",
    'index_crc': "'{index}_{crc32(url)}' (the LAVIS / ClipCap scripts)",
    'img2dataset': "img2dataset's '{shard:05d}/{key}.jpg'",
}


def url_crc(url: str) -> int:
    """The unsigned crc32 of a url, as the download scripts name files."""
    return zlib.crc32(url.encode('utf-8')) & 0xffffffff


def list_files(root: str) -> Set[str]:
    """The relative path (``/``-separated) of every file under ``root``.

    Links are followed (a shard folder may be a link), each folder once.
    """
    found: Set[str] = set()
    seen: Set[Tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        relative = osp.relpath(folder, root)
        prefix = '' if relative == '.' else relative.replace(os.sep, '/') + '/'
        found.update(prefix + name for name in files)
    return found


class ImageNames:
    """The image file of each TSV row that has one.

    Args:
        layout: how the files are named, for messages.
        by_index: row index -> (path under the root, the crc32 the name
            carries or None).
    """

    def __init__(self, layout: str,
                 by_index: Dict[int, Tuple[str, Optional[int]]]) -> None:
        self.layout = layout
        self.by_index = by_index

    def name(self, index: int, url: str) -> Optional[str]:
        """The path of row ``index``'s image; None if it was never
        downloaded.

        Raises:
            BadRowError: the file carries the crc32 of another url.
        """
        entry = self.by_index.get(index)
        if entry is None:
            return None
        name, crc = entry
        if crc is not None and crc != url_crc(url):
            raise BadRowError(
                f"image '{name}' is named for another url (crc32 {crc}; this "
                f"row's url gives {url_crc(url)}): were the images downloaded "
                'from this very TSV?')
        return name


def _from_template(template: str, urls: List[str],
                   present: Set[str]) -> ImageNames:
    by_index = {}
    for index, url in enumerate(urls):
        name = template.format(index=index, crc=url_crc(url))
        if osp.normpath(name) in present:
            by_index[index] = (osp.normpath(name), None)
    return ImageNames(f"'{template}'", by_index)


def _check_img2dataset(root: str, present: Set[str], urls: List[str],
                       keys: Dict[int, str], rows_per_shard: int,
                       ann_file: str) -> None:
    """Compare the url in the first ``{key}.json`` of each shard with the
    TSV row the key maps to."""
    first: Dict[str, Tuple[int, str]] = {}
    for index, name in keys.items():
        shard = name.split('/')[0]
        if shard not in first or index < first[shard][0]:
            first[shard] = (index, name)
    for index, name in first.values():
        sidecar = osp.splitext(name)[0] + '.json'
        if sidecar not in present:
            continue
        with open(osp.join(root, sidecar), encoding='utf-8') as f:
            url = json.load(f).get('url')
        if index >= len(urls) or url != urls[index]:
            row_url = urls[index] if index < len(urls) else 'no such row'
            raise AnnotationError(
                ann_file, None,
                f"img2dataset's {osp.join(root, sidecar)} holds the url "
                f'{url!r}, but the row it maps to (row {index}) has '
                f'{row_url!r}: the images were not downloaded from this TSV '
                'in this order, or img2dataset ran with a '
                'number_sample_per_shard other than rows_per_shard='
                f'{rows_per_shard}')


def find_image_names(root: str, urls: List[str], image_name: str,
                     rows_per_shard: int, ann_file: str) -> ImageNames:
    """Look at ``root`` once and tell which file holds each row's image.

    Args:
        root: the image folder (``data_prefix.img``).
        urls: the url of each data row, row 0 first ('' for a bad row).
        image_name: ``'auto'`` or a template with ``{index}`` / ``{crc}``.
        rows_per_shard: img2dataset's ``number_sample_per_shard``.
        ann_file: the TSV, for the errors.

    Raises:
        AnnotationError: no image of any row is found, or img2dataset's
            sidecars disagree with the TSV.
    """
    present = list_files(root)
    if image_name != 'auto':
        names = _from_template(image_name, urls, present)
    else:
        found: Dict[str, Dict[int, Tuple[str, Optional[int]]]] = {
            layout: {}
            for layout in LAYOUTS
        }
        digits = math.ceil(math.log10(rows_per_shard))
        for path in sorted(present):
            match = SHARD_NAME.fullmatch(path)
            if match:
                key = int(match.group(2))
                index = (key // 10**digits * rows_per_shard + key % 10**digits)
                found['img2dataset'].setdefault(index, (path, None))
                continue
            match = FLAT_NAME.fullmatch(path)
            if match and (match.group(3) or '').lower() in IMAGE_EXTS:
                crc = match.group(2)
                layout = 'index' if crc is None else 'index_crc'
                found[layout].setdefault(
                    int(match.group(1)),
                    (path, None if crc is None else int(crc)))
        layout = max(LAYOUTS, key=lambda name: len(found[name]))
        names = ImageNames(LAYOUTS[layout], found[layout])
        if layout == 'img2dataset':
            _check_img2dataset(root, present, urls, {
                i: name
                for i, (name, _) in names.by_index.items()
            }, rows_per_shard, ann_file)
    if not any(index < len(urls) for index in names.by_index):
        expected = (f"'{image_name}'"
                    if image_name != 'auto' else ', '.join(LAYOUTS.values()))
        raise AnnotationError(
            ann_file, None,
            f"no row's image is under '{root}' ({len(present)} files "
            f'there), named as {expected}; point data_prefix.img at the '
            'folder the downloader wrote, or set image_name to its naming, '
            "e.g. image_name='{index:06d}.jpg'")
    return names
