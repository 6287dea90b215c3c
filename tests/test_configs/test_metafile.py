"""configs/alpro/metafile.yml lists every paper config once, and what its
long name and metadata say (batch, epochs, frames) is what the config
holds."""
import re
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
METAFILE = REPO / 'configs/alpro/metafile.yml'
MODELS = yaml.safe_load(METAFILE.read_text())['Models']
# ..._[16x]b16-10e_...: (GPUs x) batch per GPU - epochs
SCHEDULE = re.compile(r'_(?:\d+x)?b(\d+)-(\d+)e_')


def test_every_paper_config_listed_once():
    listed = [model['Config'] for model in MODELS]
    on_disk = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / 'configs/alpro').glob('*.py'))
    assert sorted(listed) == on_disk
    names = [model['Name'] for model in MODELS]
    assert len(set(names)) == len(names)


def check_entry(model: dict) -> None:
    """What a metafile entry's long name and metadata say (batch, epochs,
    frames) is what its config holds."""
    cfg = Config.fromfile(REPO / model['Config'])
    schedule = SCHEDULE.search(model['Name'])
    if schedule:
        batch, epochs = map(int, schedule.groups())
        assert cfg.train_dataloader.batch_size == batch
        # an iteration-based config over nominal epochs says how many
        assert cfg.train_cfg.get('max_epochs') == epochs or (
            cfg.train_cfg.max_iters == epochs * cfg.iters_per_epoch)
    # the frames of the clips it is evaluated on, else trained on
    loader = cfg.get('test_dataloader') or cfg.train_dataloader
    sample = next(t for t in loader.dataset.pipeline
                  if t['type'] == 'SampleFrames')
    assert sample['num_frames'] == model['Metadata']['Frames']


@pytest.mark.parametrize('model', MODELS, ids=lambda m: m['Name'])
def test_entry_matches_its_config(model):
    assert model['Config'] in model['Commands'][-1]
    check_entry(model)
