"""tools/demo.sh and the demo configs load the checkpoint each training
stage of the demo writes last: ``epoch_N.pth`` with N the config's
``max_epochs``."""
import re
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
DEMO = (REPO / 'tools/demo.sh').read_text()
CHECKPOINT = r'/(\w+)/epoch_(\d+)\.pth'


def last_epochs() -> dict:
    """Work dir name -> ``max_epochs`` of each stage demo.sh trains."""
    trained = re.findall(r'tools/train\.py (configs/demo/(\w+)\.py)', DEMO)
    assert trained
    return {
        work_dir: Config.fromfile(REPO / config).train_cfg.max_epochs
        for config, work_dir in trained
    }


def test_every_checkpoint_the_demo_names_is_the_last_one_written():
    last_epoch = last_epochs()
    named = re.findall(r'\$W' + CHECKPOINT, DEMO)
    assert named
    # every stage trained is tested, and what is named was trained
    assert {work_dir for work_dir, _ in named} == set(last_epoch)
    for work_dir, epoch in named:
        assert int(epoch) == last_epoch[work_dir], (work_dir, epoch)


def test_every_checkpoint_a_demo_config_names_is_the_last_one_written():
    last_epoch = last_epochs()
    named = [
        (config.name, *found)
        for config in sorted((REPO / 'configs/demo').glob('*.py'))
        for found in re.findall('work_dirs' + CHECKPOINT, config.read_text())
    ]
    assert named
    for config, work_dir, epoch in named:
        assert int(epoch) == last_epoch[work_dir], (config, work_dir, epoch)
    stage2 = Config.fromfile(REPO / 'configs/demo/pretrain.py')
    assert stage2.prompter_checkpoint == (
        f'work_dirs/pretrain_prompter/epoch_{last_epoch["pretrain_prompter"]}'
        '.pth')
