"""configs/demo/pretrain.py (ALPRO stage 2) end to end after a short demo
prompter run and the demo entity vocabulary: the scalars and image panels a
user sees in TensorBoard, read back from the event file."""
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from tests.tool_runs import run_tool, tool_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def entities_option(corpus) -> str:
    """The config option that sizes the PEM head for the entities of the
    small test corpus (fewer than the full demo's 25)."""
    lines = (corpus / 'data/demo/entities.txt').read_text().splitlines()
    count = sum(bool(line.strip()) for line in lines)
    return f'model.prompter.num_entities={count}'


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
    # the config names the checkpoint of the full 12-epoch schedule
    os.replace(demo_corpus / 'work_dirs/pretrain_prompter/epoch_2.pth',
               demo_corpus / 'work_dirs/pretrain_prompter/epoch_30.pth')
    run_tool([
        sys.executable,
        str(REPO / 'tools/data/build_entity_vocab.py'),
        'data/demo/annotations/results_demo_train.csv',
        'data/demo/annotations/cc3m_demo.json', '--out',
        'data/demo/entities.txt'
    ], demo_corpus)
    return demo_corpus


@pytest.fixture(scope='module')
def stage_two(stage_one, tmp_path_factory):
    """configs/demo/pretrain.py trained 2 epochs: its work directory and the
    tail of its output."""
    work_dir = tmp_path_factory.mktemp('pretrain')
    output = run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(REPO / 'configs/demo/pretrain.py'), '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', 'default_hooks.logger.interval=1',
        'custom_hooks.1.interval=2',
        entities_option(stage_one)
    ], stage_one)
    return work_dir, output[-2000:]


def test_stage_two_writes_scalars_and_panels(stage_two):
    work_dir, output = stage_two
    files = glob.glob(str(work_dir / '*/vis_data/events.out.tfevents.*'))
    assert files, output
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


def test_release_departures_probe_on_the_stage_two_checkpoint(
        stage_one, stage_two, tmp_path):
    work_dir, _ = stage_two
    out = tmp_path / 'departures.json'
    output = run_tool([
        sys.executable,
        str(REPO / 'tools/analysis/release_departures.py'),
        str(REPO / 'configs/demo/pretrain.py'),
        str(work_dir / 'epoch_2.pth'), '--num-batches', '2', '--out',
        str(out), '--cfg-options',
        entities_option(stage_one)
    ], stage_one)
    result = json.loads(out.read_text())
    assert '1. PEM keep mask' in output and '3. VTC targets' in output
    # at most two batches of 16 (the test corpus is smaller than the demo's)
    assert 0 < result['samples'] <= 2 * 16
    assert result['vtc_samples_per_rank'] == result['samples'] // 4
    for key in ('keep_paper', 'keep_release', 'keep_rules_agree',
                'plain_top_entity_agree', 'plain_keep_agree'):
        assert 0.0 <= result[key] <= 1.0, key
    # the release's plain means of unit vectors: norm at most 1
    assert 0.0 < result['entity_norm_min'] <= result['entity_norm_max'] <= 1.0
    # on the first node both VTC rules target the same rows
    assert result['vtc_local_first_node'] == pytest.approx(
        result['vtc_global_first_node'])
    assert result['vtc_local_targets_right'] == 0.5


def test_ablation_runs_each_seed_and_summarises(stage_one, tmp_path):
    """Two runs at a time (``--jobs 2``), each logging to its folder."""
    work_dir = tmp_path / 'ablation'
    command = [
        sys.executable,
        str(REPO / 'tools/analysis/demo_ablation.py'), '--rows', 'all',
        '--seeds', '0', '1', '--jobs', '2', '--work-dir',
        str(work_dir), '--out',
        str(tmp_path / 'ablation.json'), '--train-options',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        entities_option(stage_one)
    ]
    output = run_tool(command, stage_one)
    results = json.loads((tmp_path / 'ablation.json').read_text())
    assert sorted(results['all']) == ['0', '1']
    for seed in '01':
        run = work_dir / f'all_seed{seed}'
        assert (run / 'epoch_1.pth').is_file()
        assert 'Epoch(train)' in (run / 'run.log').read_text()
        # the demo config without the order-aware objective, at this seed
        config = glob.glob(str(run / '*/vis_data/config.py'))[0]
        text = Path(config).read_text()
        assert 'order_negatives=None' in text and f'seed={seed}' in text
        assert 0 <= results['all'][seed]['retrieval/t2v_r1'] <= 100
    assert '| all | 2 |' in output and '+-' in output
    # a second call reuses the metrics: no training
    again = run_tool(command, stage_one)
    assert again.count('done before') == 2
    assert 'Epoch(train)' not in again
