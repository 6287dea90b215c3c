"""A training run killed after its first epoch and resumed with ``--resume``
ends with the same weights as one that never stopped: the shipped demo
config, its two persistent data-loader workers and random augmentation."""
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.tool_runs import run_tool, tool_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/demo/pretrain_prompter.py'
# two epochs of two iterations each on the test corpus, no validation
SHORT = [
    '--cfg-options', 'train_cfg.max_epochs=2', 'val_cfg=None',
    'val_dataloader=None', 'val_evaluator=None'
]


def train_command(config: Path, work_dir: Path, *args: str) -> list:
    return [
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(config), '--work-dir',
        str(work_dir), *args, *SHORT
    ]


def weights(path: Path) -> dict:
    return torch.load(
        path, map_location='cpu', weights_only=True)['state_dict']


def test_killed_and_resumed_run_equals_one_run(demo_corpus, tmp_path):
    whole, split = tmp_path / 'whole', tmp_path / 'split'
    run_tool(train_command(CONFIG, whole), demo_corpus)

    killed = tmp_path / 'killed_after_epoch_1.py'
    killed.write_text(
        f'_base_ = [{str(CONFIG)!r}]\n'
        "custom_imports = dict(imports=['tests.kill_after_epoch_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='KillAfterEpochHook', epoch=1)]\n")
    done = subprocess.run(
        train_command(killed, split),
        cwd=demo_corpus,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    assert (split / 'epoch_1.pth').exists()
    assert not (split / 'epoch_2.pth').exists()

    output = run_tool(train_command(CONFIG, split, '--resume'), demo_corpus)
    assert 'resumed epoch: 1' in output
    one_go, resumed = (weights(whole / 'epoch_2.pth'),
                       weights(split / 'epoch_2.pth'))
    assert one_go.keys() == resumed.keys()
    differ = [
        key for key in one_go if not torch.equal(one_go[key], resumed[key])
    ]
    assert not differ, f'{len(differ)} of {len(one_go)} tensors differ'
    # and the second epoch did train
    first = weights(split / 'epoch_1.pth')
    assert any(not torch.equal(first[k], one_go[k]) for k in one_go)


def test_resume_falls_back_from_an_empty_latest_checkpoint(
        demo_corpus, tmp_path):
    toy = REPO / 'tests/data/configs/toy_train.py'
    run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(toy), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=2'
    ], demo_corpus)
    latest = tmp_path / 'epoch_2.pth'
    assert (tmp_path / 'last_checkpoint').read_text().strip() == str(latest)
    latest.write_bytes(b'')  # as a kill while saving left it before
    output = run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(toy), '--work-dir',
        str(tmp_path), '--resume', '--cfg-options', 'train_cfg.max_epochs=3'
    ], demo_corpus)
    assert (f'the latest checkpoint {latest} cannot be loaded (it is empty '
            f'(0 bytes)); resuming from {tmp_path / "epoch_1.pth"}'
            in output), output[-3000:]
    assert 'resumed epoch: 1' in output
    assert weights(tmp_path / 'epoch_3.pth')  # trained on to the end
