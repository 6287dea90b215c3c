"""tools/train.py end to end: resume equivalence and two CPU processes.

A toy model (tests/toy_video_text_model.py) on the demo corpus runs through
the real Runner, data pipeline, hooks and checkpoints; checkpoints load under
``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1``.
"""
import sys
from pathlib import Path

import pytest
import torch

from tests.tool_runs import run_tool

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'tests/data/configs/toy_train.py'


def train(workdir: Path, *args: str) -> str:
    """tools/train.py on the toy config; its output."""
    return run_tool(
        [sys.executable,
         str(REPO / 'tools/train.py'),
         str(CONFIG), *args],
        workdir,
        timeout=600)


def weights(path: Path) -> dict:
    return torch.load(
        path, map_location='cpu', weights_only=True)['state_dict']


def test_resume_equals_one_run(demo_corpus, tmp_path):
    whole, split = tmp_path / 'whole', tmp_path / 'split'
    train(demo_corpus, '--work-dir', str(whole))
    train(demo_corpus, '--work-dir', str(split), '--cfg-options',
          'train_cfg.max_epochs=2')
    assert (split / 'epoch_2.pth').exists()
    assert not (split / 'epoch_3.pth').exists()
    output = train(demo_corpus, '--work-dir', str(split), '--resume',
                   str(split / 'epoch_2.pth'))
    assert 'resumed epoch: 2' in output
    one_go, resumed = weights(whole / 'epoch_4.pth'), weights(split /
                                                              'epoch_4.pth')
    assert one_go.keys() == resumed.keys()
    for key in one_go:
        assert torch.equal(one_go[key], resumed[key]), key
    # and training did move the weights
    start = weights(split / 'epoch_2.pth')
    assert not torch.equal(start['video_proj.weight'],
                           one_go['video_proj.weight'])


def test_resume_latest_without_a_path(demo_corpus, tmp_path):
    train(demo_corpus, '--work-dir', str(tmp_path), '--cfg-options',
          'train_cfg.max_epochs=1')
    output = train(demo_corpus, '--work-dir', str(tmp_path), '--resume',
                   '--cfg-options', 'train_cfg.max_epochs=2')
    assert 'resumed epoch: 1' in output
    assert (tmp_path / 'epoch_2.pth').exists()


def test_dist_train_two_cpu_processes(demo_corpus, tmp_path):
    output = run_tool([
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(CONFIG), '2', '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1'
    ], demo_corpus)
    assert 'alpro train: rank 0 of 2 on cpu' in output
    assert 'alpro train: rank 1 of 2 on cpu' in output
    # 19 training clips, batch 4 per process: 3 iterations, not 5
    assert 'Epoch(train) [1][3/3]' in output
    state = weights(tmp_path / 'epoch_1.pth')
    assert all(torch.isfinite(v).all() for v in state.values())
