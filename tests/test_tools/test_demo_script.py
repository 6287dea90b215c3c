"""tools/demo.sh tests and later stages load the checkpoint each training
stage writes last: ``epoch_N.pth`` with N the config's ``max_epochs``."""
import re
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def test_every_checkpoint_the_demo_names_is_the_last_one_written():
    demo = (REPO / 'tools/demo.sh').read_text()
    trained = re.findall(r'tools/train\.py (configs/demo/(\w+)\.py)', demo)
    named = re.findall(r'\$W/(\w+)/epoch_(\d+)\.pth', demo)
    assert trained and named
    last_epoch = {
        work_dir: Config.fromfile(REPO / config).train_cfg.max_epochs
        for config, work_dir in trained
    }
    # every stage trained is tested, and what is named was trained
    assert {work_dir for work_dir, _ in named} == set(last_epoch)
    for work_dir, epoch in named:
        assert int(epoch) == last_epoch[work_dir], (work_dir, epoch)


def test_the_stage_2_config_loads_the_prompter_the_demo_trains():
    demo = (REPO / 'tools/demo.sh').read_text()
    prompter_epochs = Config.fromfile(
        REPO / 'configs/demo/pretrain_prompter.py').train_cfg.max_epochs
    stage2 = Config.fromfile(REPO / 'configs/demo/pretrain.py')
    assert stage2.prompter_checkpoint == (
        f'work_dirs/pretrain_prompter/epoch_{prompter_epochs}.pth')
    assert 'tools/train.py configs/demo/pretrain_prompter.py' in demo
