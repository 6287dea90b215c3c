"""load_entities: ALPRO's unigrams.txt convention."""
from pathlib import Path

import pytest

from alpro.datasets import load_entities


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / 'unigrams.txt'
    path.write_text(text, encoding='utf-8')
    return str(path)


def test_first_token_of_each_non_empty_line(tmp_path: Path):
    path = write(tmp_path, 'man 1203\ndog\t77\n\n   \nball\ncar park 3\n')
    assert load_entities(path) == ['man', 'dog', 'ball', 'car']


def test_top_k(tmp_path: Path):
    path = write(tmp_path, ''.join(f'word{i}\n' for i in range(1500)))
    assert load_entities(path) == [f'word{i}' for i in range(1000)]
    assert load_entities(path, top_k=3) == ['word0', 'word1', 'word2']
    assert len(load_entities(path, top_k=5000)) == 1500  # fewer: all
    with pytest.raises(ValueError, match='top_k'):
        load_entities(path, top_k=0)


def test_duplicates_refused_naming_lines(tmp_path: Path):
    path = write(tmp_path, 'man 5\ndog 4\n\nman 2\n')
    with pytest.raises(
            ValueError, match=r"line 4: entity 'man' already on "
            'line 1'):
        load_entities(path)
    # a repeat past top_k is not read
    assert load_entities(path, top_k=2) == ['man', 'dog']


def test_missing_file_says_how_to_make_it(tmp_path: Path):
    path = str(tmp_path / 'nowhere' / 'unigrams.txt')
    with pytest.raises(FileNotFoundError) as error:
        load_entities(path)
    message = str(error.value)
    assert path in message
    assert 'python tools/data/build_entity_vocab.py' in message
    assert 'produces it' in message


def test_empty_file_refused(tmp_path: Path):
    with pytest.raises(ValueError, match='no entity'):
        load_entities(write(tmp_path, '\n\n'))
