"""configs/demo/pretrain.py (ALPRO stage 2) end to end after a short demo
prompter run and the demo entity vocabulary: the scalars and image panels a
user sees in TensorBoard, read back from the event file."""
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator
from tool_runs import run_tool, tool_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def stage_one(demo_corpus):
    """The demo prompter trained 2 epochs, and the demo entity vocabulary,
    where configs/demo/pretrain.py expects them."""
    run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(REPO / 'configs/demo/pretrain_prompter.py'), '--work-dir',
        'work_dirs/pretrain_prompter', '--cfg-options',
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2'
    ], demo_corpus)
    # the config names the checkpoint of the full 60-epoch schedule
    os.replace(demo_corpus / 'work_dirs/pretrain_prompter/epoch_2.pth',
               demo_corpus / 'work_dirs/pretrain_prompter/epoch_60.pth')
    run_tool([
        sys.executable,
        str(REPO / 'tools/data/build_entity_vocab.py'),
        'data/demo/annotations/results_demo_train.csv',
        'data/demo/annotations/cc3m_demo.json', '--out',
        'data/demo/entities.txt'
    ], demo_corpus)
    return demo_corpus


def test_stage_two_writes_scalars_and_panels(stage_one, tmp_path):
    output = run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(REPO / 'configs/demo/pretrain.py'), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', 'default_hooks.logger.interval=1',
        'custom_hooks.1.interval=2'
    ], stage_one)
    files = glob.glob(str(tmp_path / '*/vis_data/events.out.tfevents.*'))
    assert files, output[-2000:]
    events = EventAccumulator(files[0], size_guidance={'images': 0})
    events.Reload()
    scalars = set(events.Tags()['scalars'])
    for tag in ('loss_vtc', 'loss_vtm', 'loss_mlm', 'loss_pem', 'vtm_acc',
                'mlm_acc', 'temperature', 'pem_kept', 'pem_entropy',
                'retrieval/t2v_r1'):
        assert tag in scalars, sorted(scalars)
    kept = [e.value for e in events.Scalars('pem_kept')]
    assert all(0.0 <= k <= 1.0 for k in kept)
    images = set(events.Tags()['images'])
    assert {'train/clips', 'train/pem'} <= images, images
    panel = events.Images('train/pem')[0]
    assert panel.width >= 128 and panel.height >= 128


def test_missing_prompter_checkpoint_says_which_command(stage_one, tmp_path):
    done = subprocess.run([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(REPO / 'configs/demo/pretrain.py'), '--work-dir',
        str(tmp_path), '--cfg-options',
        'model.prompter.checkpoint=work_dirs/nowhere/epoch_60.pth'
    ],
                          cwd=stage_one,
                          env=tool_env(),
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert done.returncode != 0
    assert 'work_dirs/nowhere/epoch_60.pth' in done.stderr
    assert 'pretrain_prompter' in done.stderr
