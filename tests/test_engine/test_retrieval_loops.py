"""RetrievalTestLoop through tools/test.py: exact evaluation equals a
reference ranking, and two gloo processes equal one."""
import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from alpro.engine.runner import RetrievalTestLoop
from alpro.evaluation.metrics.retrieval_metric import retrieval_metrics
from alpro.registry import DATASETS, MODELS
from alpro.utils import register_all_modules
from alpro.utils.cli import use_bf16_evaluation
from tests.tool_runs import run_tool, save_random_model

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'tests/data/configs/retrieval_eval.py'
METRIC = re.compile(r'retrieval/(\w+): ([\d.]+)')


def run_test(workdir, checkpoint, out, nproc=1) -> dict:
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
    output = run_tool(cmd, workdir)
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
        inputs = data['inputs']
        video, video_feat = model.encode_video(inputs['video'])
        text, text_feat = model.encode_text(inputs['text_ids'],
                                            inputs['text_mask'])
        scores = model.rank(video, video_feat, text,
                            data['inputs']['text_mask'], text_feat)
    # one caption per clip in the demo split: text i belongs to video i
    return retrieval_metrics(scores, torch.arange(len(items)))


@pytest.mark.slow
def test_exact_evaluation_one_and_two_processes(demo_corpus, tmp_path):
    checkpoint = tmp_path / 'model.pth'
    model = save_random_model(CONFIG, demo_corpus, checkpoint, seed=3)

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


@pytest.mark.parametrize('dtype', [None, 'bfloat16'])
def test_loop_evaluates_in_the_dtype_asked(demo_corpus, tmp_path, monkeypatch,
                                           dtype):
    """``test_cfg.dtype`` (``tools/test.py --amp`` on CUDA): the fusion
    passes run under autocast to it (here on the CPU)."""
    monkeypatch.chdir(demo_corpus)
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'retrieval_{dtype}_{tmp_path.name}'
    cfg.test_cfg = dict(type='RetrievalTestLoop', dtype=dtype)
    runner = Runner.from_cfg(cfg)
    seen = set()
    runner.model.vtm_head.register_forward_hook(
        lambda module, args, out: seen.add(out.dtype))
    metrics = runner.test()
    assert seen == {torch.bfloat16 if dtype else torch.float32}
    assert 0 <= metrics['retrieval/t2v_r1'] <= 100


def test_loop_hands_rows_and_left_out_samples_to_the_evaluator(
        demo_corpus, tmp_path, monkeypatch):
    """Each kept caption reaches the evaluator as its row of scores, once;
    each left-out sample (here two captions of a missing video) is counted
    once by the metric; the metrics are those of the kept captions."""
    monkeypatch.chdir(demo_corpus)
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    dataset = cfg.test_dataloader.dataset
    ann = Path(dataset.ann_file).read_text().splitlines()
    missing = [
        '999990,https://example.invalid/x.mp4,PT00H00M02S,missing,'
        f'caption {i} of a missing clip' for i in range(2)
    ]
    bad_ann = tmp_path / 'with_missing.csv'
    bad_ann.write_text('\n'.join(ann[:2] + missing + ann[2:]) + '\n')
    runs = {}
    for name, ann_file in (('kept', dataset.ann_file), ('bad', bad_ann)):
        cfg.test_dataloader.dataset.update(
            ann_file=str(ann_file), skip_bad=True)
        cfg.work_dir = str(tmp_path / name)
        cfg.experiment_name = f'left_out_{name}_{tmp_path.name}'
        runner = Runner.from_cfg(cfg)
        processed = []
        metric = runner.test_loop.evaluator.metrics[0]
        real = metric.process_kept

        def process_kept(data_batch, data_samples, real=real):
            processed.extend(data_samples)
            return real(data_batch, data_samples)

        metric.process_kept = process_kept
        runs[name] = (runner.test(), processed)
    kept, processed = runs['kept']
    num_texts = len(ann) - 1
    assert len(processed) == num_texts
    assert {s['gt_label'] for s in processed} <= set(range(num_texts))
    assert all(s['pred_score'].shape == (num_texts, ) for s in processed)
    bad, _ = runs['bad']
    assert (kept.pop('retrieval/left_out'), bad.pop('retrieval/left_out')) \
        == (0, 2)
    assert bad == kept


def test_loop_refuses_an_unknown_dtype():
    with pytest.raises(ValueError, match="dtype='int8'"):
        RetrievalTestLoop(None, None, None, dtype='int8')


def test_amp_switches_the_retrieval_loops_only():
    retrieval = dict(type='alpro.RetrievalValLoop')
    assert use_bf16_evaluation(retrieval)
    assert retrieval['dtype'] == 'bfloat16'
    plain = dict(type='TestLoop')
    assert not use_bf16_evaluation(plain)
    assert plain == dict(type='TestLoop')
    assert not use_bf16_evaluation(None)
