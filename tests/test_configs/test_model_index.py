"""model-index.yml, the OpenMMLab index that ``mim`` reads: it imports every
metafile under configs/, each parses, and each model entry names a unique
model, a collection of its metafile and a config that loads and holds what
the entry says (batch and epochs of its long name, frames)."""
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config

from tests.test_configs.test_metafile import SCHEDULE

REPO = Path(__file__).resolve().parents[2]
INDEX = yaml.safe_load((REPO / 'model-index.yml').read_text())
IMPORTS = INDEX['Import']


def _metafile(path):
    return yaml.safe_load((REPO / path).read_text())


def _models():
    return [(path, model) for path in IMPORTS
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
    names = [model['Name'] for _, model in _models()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, repeated


@pytest.mark.parametrize(
    'path, model', _models(), ids=[model['Name'] for _, model in _models()])
def test_model_entry_loads_its_config(path, model):
    assert set(model) >= {'Name', 'In Collection', 'Config', 'Metadata'}
    collections = [c['Name'] for c in _metafile(path).get('Collections', [])]
    assert model['In Collection'] in collections, (path, model['Name'])
    assert (REPO / model['Config']).is_file(), model['Config']
    cfg = Config.fromfile(REPO / model['Config'])
    schedule = SCHEDULE.search(model['Name'])
    if schedule:
        batch, epochs = map(int, schedule.groups())
        assert cfg.train_dataloader.batch_size == batch
        assert cfg.train_cfg.max_epochs == epochs
    # the frames of the clips it is evaluated on, else trained on
    loader = cfg.get('test_dataloader') or cfg.train_dataloader
    sample = next(t for t in loader.dataset.pipeline
                  if t['type'] == 'SampleFrames')
    assert sample['num_frames'] == model['Metadata']['Frames']
