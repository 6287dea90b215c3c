"""RetrievalTestLoop through tools/test.py: exact evaluation equals a
reference ranking, and two gloo processes equal one."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from alpro.evaluation.metrics.retrieval_metric import retrieval_metrics
from alpro.registry import DATASETS, MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'tests/data/configs/retrieval_eval.py'
METRIC = re.compile(r'retrieval/(\w+): ([\d.]+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_test(workdir, checkpoint, out, nproc=1) -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        TORCH_FORCE_WEIGHTS_ONLY_LOAD='1',
        ALPRO_DISABLE_PLUGIN_AUTOLOAD='1',
        OMP_NUM_THREADS='1',
        PORT=str(free_port()),
        PYTHON=sys.executable)
    if nproc == 1:
        cmd = [sys.executable, str(REPO / 'tools/test.py')]
        cmd += [str(CONFIG), str(checkpoint), '--work-dir', str(out)]
        cmd += ['--dump-metrics', str(out) + '.json']
    else:
        cmd = [
            'bash',
            str(REPO / 'tools/dist_test.sh'),
            str(CONFIG),
            str(checkpoint),
            str(nproc), '--work-dir',
            str(out)
        ]
    done = subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    lines = [
        line for line in output.splitlines()
        if 'Epoch(test)' in line and 'retrieval/' in line
    ]
    return {k: float(v) for k, v in METRIC.findall(lines[-1])}


def reference(workdir, state) -> dict:
    """Encode each clip and caption by hand and rank with the model."""
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        cfg = Config.fromfile(CONFIG)
        with DefaultScope.overwrite_default_scope('alpro'):
            model = MODELS.build(cfg.model).eval()
            model.load_state_dict(state)
            dataset = DATASETS.build(cfg.test_dataloader.dataset)
            items = [dataset[i] for i in range(len(dataset))]
    finally:
        os.chdir(cwd)
    batch = dict(
        inputs=[i['inputs'] for i in items],
        data_samples=[i['data_samples'] for i in items])
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        video, text, video_feat, text_feat = model.encode(data['inputs'])
        scores = model.rank(video, video_feat, text,
                            data['inputs']['text_mask'], text_feat)
    # one caption per clip in the demo split: text i belongs to video i
    return retrieval_metrics(scores, torch.arange(len(items)))


def test_exact_evaluation_one_and_two_processes(demo_corpus, tmp_path):
    cwd = os.getcwd()
    os.chdir(demo_corpus)
    try:
        cfg = Config.fromfile(CONFIG)
        with DefaultScope.overwrite_default_scope('alpro'):
            torch.manual_seed(3)
            model = MODELS.build(cfg.model)
            model.init_weights()
    finally:
        os.chdir(cwd)
    checkpoint = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)

    one = run_test(demo_corpus, checkpoint, tmp_path / 'one')
    expected = reference(demo_corpus, model.state_dict())
    for key, value in expected.items():
        assert abs(one[key] - value) < 1e-3, (key, one[key], value)
    assert one['left_out'] == 0
    dumped = json.loads((tmp_path / 'one.json').read_text())
    assert {
        k.split('/')[1]: v
        for k, v in dumped.items()
    } == pytest.approx(
        one, abs=1e-4)
    two = run_test(demo_corpus, checkpoint, tmp_path / 'two', nproc=2)
    assert two == one
