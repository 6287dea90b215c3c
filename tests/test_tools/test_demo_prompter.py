"""configs/demo/pretrain_prompter.py end to end: a short run, what it writes
to TensorBoard, two CPU processes, and a backbone from the example plugin."""
import glob
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from tests.tool_runs import run_tool

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/demo/pretrain_prompter.py'
PLUGIN_CONFIG = (
    REPO / 'plugins/alpro-example-plugin/configs/demo_prompter_conv3d.py')
SHORT = [
    '--cfg-options', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
    'default_hooks.logger.interval=1'
]


def scalars(work_dir: Path) -> dict:
    files = glob.glob(str(work_dir / '*/vis_data/events.out.tfevents.*'))
    assert files, f'no TensorBoard event file under {work_dir}'
    events = EventAccumulator(files[0])
    events.Reload()
    return {
        tag: [e.value for e in events.Scalars(tag)]
        for tag in events.Tags()['scalars']
    }


def test_short_run_writes_tensorboard_scalars(demo_corpus, tmp_path):
    run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(CONFIG), '--work-dir',
        str(tmp_path), *SHORT
    ], demo_corpus)
    values = scalars(tmp_path)
    for tag in ('loss', 'loss_vtc', 'temperature', 'lr', 'retrieval/t2v_r1',
                'retrieval/v2t_r1'):
        assert tag in values, sorted(values)
    assert all(0.001 <= t <= 0.5 for t in values['temperature'])
    assert 0 <= values['retrieval/t2v_r1'][-1] <= 100
    assert (tmp_path / 'epoch_2.pth').exists()


def test_two_cpu_processes(demo_corpus, tmp_path):
    output = run_tool([
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(CONFIG), '2', '--work-dir',
        str(tmp_path), *SHORT
    ], demo_corpus)
    assert 'alpro train: rank 1 of 2 on cpu' in output
    assert 'retrieval/t2v_r1' in output
    assert (tmp_path / 'epoch_2.pth').exists()


def test_plugin_backbone_trains_by_config(demo_corpus, tmp_path):
    run_tool([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(PLUGIN_CONFIG), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1'
    ], demo_corpus)
    # the config the run used is in its log file (not on the console)
    log = Path(glob.glob(str(tmp_path / '*/*.log'))[0]).read_text()
    assert "type='Conv3dTransformer'" in log
    assert (tmp_path / 'epoch_1.pth').exists()
