"""model-index.yml, the OpenMMLab index that ``mim`` reads: it imports every
metafile under configs/, each parses, and each model entry names a unique
model, a collection of its metafile and a config that loads and holds what
the entry says (batch and epochs of its long name, frames)."""
from pathlib import Path

import pytest
import yaml

from tests.test_configs.test_metafile import check_entry

REPO = Path(__file__).resolve().parents[2]
INDEX = yaml.safe_load((REPO / 'model-index.yml').read_text())
IMPORTS = INDEX['Import']


def _metafile(path):
    return yaml.safe_load((REPO / path).read_text())


MODELS = [(path, model) for path in IMPORTS
          for model in _metafile(path)['Models']]


def test_every_metafile_is_imported():
    on_disk = sorted(
        str(p.relative_to(REPO)) for p in REPO.glob('configs/**/metafile.yml'))
    assert sorted(IMPORTS) == on_disk
    assert len(set(IMPORTS)) == len(IMPORTS)


@pytest.mark.parametrize('path', IMPORTS)
def test_import_parses(path):
    assert (REPO / path).is_file(), path
    metafile = _metafile(path)
    assert isinstance(metafile, dict), path
    assert metafile['Models'], f'{path} lists no Models'
    for collection in metafile.get('Collections', []):
        assert collection['Name'], path


def test_model_names_are_unique():
    names = [model['Name'] for _, model in MODELS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, repeated


@pytest.mark.parametrize(
    'path, model', MODELS, ids=[model['Name'] for _, model in MODELS])
def test_model_entry_loads_its_config(path, model):
    assert set(model) >= {'Name', 'In Collection', 'Config', 'Metadata'}
    collections = [c['Name'] for c in _metafile(path).get('Collections', [])]
    assert model['In Collection'] in collections, (path, model['Name'])
    assert (REPO / model['Config']).is_file(), model['Config']
    check_entry(model)
