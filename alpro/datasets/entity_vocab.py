"""The entity list of PEM: ALPRO's ``unigrams.txt`` or ours."""
import os.path as osp
from typing import Dict, List

__all__ = ['load_entities']


def load_entities(path: str,
                  top_k: int = 1000,
                  exactly: bool = False) -> List[str]:
    """Read the entities that the prompter builds its prompts from.

    One entity per line, the entity being the line's first whitespace token
    (ALPRO's ``unigrams.txt`` convention; anything after it, such as a
    count, is ignored); empty lines are skipped and the first ``top_k``
    entities are kept, most frequent first as the file lists them.
    ``python tools/data/build_entity_vocab.py`` writes such a file from the
    pre-training captions.

    Args:
        path: the entity list.
        top_k: how many entities to read at most (the paper uses 1000).
        exactly: refuse a file with fewer than ``top_k`` entities (the
            entity prompter's ``num_entities`` sizes the PEM head).

    Returns:
        list[str]: at most ``top_k`` entities, in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``top_k < 1``, no entity in the file, fewer than
            ``top_k`` with ``exactly``, or an entity that occurs twice among
            those read (the message names both lines).
    """
    if top_k < 1:
        raise ValueError(f'top_k must be at least 1, got {top_k}')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'entity list {path} not found: `python '
            f'tools/data/build_entity_vocab.py ANN_FILE [ANN_FILE ...] --out '
            f'{path}` produces it from the pre-training captions (or point '
            "the config at ALPRO's released unigrams.txt)")
    entities: List[str] = []
    first_line: Dict[str, int] = {}
    with open(path, encoding='utf-8-sig') as f:
        for line_no, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            entity = fields[0]
            if entity in first_line:
                raise ValueError(
                    f'{path}, line {line_no}: entity {entity!r} already on '
                    f'line {first_line[entity]}; each entity must occur once')
            first_line[entity] = line_no
            entities.append(entity)
            if len(entities) == top_k:
                break
    if not entities:
        raise ValueError(f'{path}: no entity in the file (it is empty)')
    if exactly and len(entities) < top_k:
        raise ValueError(
            f'{path} lists {len(entities)} entities, fewer than the {top_k} '
            f'asked for (num_entities, the PEM head\'s size): set '
            f'num_entities={len(entities)} or write {top_k} with '
            f'tools/data/build_entity_vocab.py --top-k {top_k}')
    return entities
