"""The fine-tuning configs: they parse, name registered types, and the demo
QA config trains end to end."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from alpro.registry import (BACKBONES, DATASETS, HEADS, LOOPS, METRICS, MODELS,
                            TEXT_ENCODERS)

REPO = Path(__file__).resolve().parents[2]
FINETUNE = {
    'configs/alpro/finetune_msrvtt_ret.py': 'retrieval',
    'configs/alpro/finetune_didemo_ret.py': 'retrieval',
    'configs/alpro/zeroshot_msrvtt_ret.py': 'retrieval',
    'configs/alpro/finetune_msrvtt_qa.py': 'qa',
    'configs/alpro/finetune_msvd_qa.py': 'qa',
    'configs/demo/finetune_msrvtt_qa.py': 'qa',
}


def _types(cfg):
    """Every ``type`` named in a config tree."""
    if isinstance(cfg, dict):
        if isinstance(cfg.get('type'), str):
            yield cfg['type']
        for value in cfg.values():
            yield from _types(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            yield from _types(value)


@pytest.mark.parametrize('path', sorted(FINETUNE))
def test_finetune_config_types_are_registered(path):
    cfg = Config.fromfile(REPO / path)
    assert cfg.default_scope == 'alpro'
    model_types = set(_types(cfg.model))
    assert model_types, path
    registries = (MODELS, BACKBONES, TEXT_ENCODERS, HEADS)
    for name in model_types:
        assert any(r.get(name) is not None for r in registries), name
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert DATASETS.get(dataset.type) is not None, dataset.type
        assert dataset.get('test_mode', False) == (split != 'train')
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert METRICS.get(evaluator.type) is not None
    if FINETUNE[path] == 'retrieval':
        assert cfg.val_cfg.type == 'RetrievalValLoop'
        assert cfg.test_cfg.type == 'RetrievalTestLoop'
        assert cfg.val_evaluator.type == 'RetrievalMetric'
        assert LOOPS.get(cfg.test_cfg.type) is not None
    else:
        assert cfg.model.type == 'AlproVideoQA'
        assert cfg.val_evaluator.type == 'VideoQAMetric'
        pack = cfg.train_dataloader.dataset.pipeline[-1]
        # the order-aware objective trains on each sample's opposite answer
        reversed_clips = cfg.model.get('reversed_clips', False)
        assert pack.data_keys == ('answer_label', ) + (
            ('opposite_label', ) if reversed_clips else ())
        assert bool(cfg.train_dataloader.dataset.get(
            'opposite_answers')) == reversed_clips
        assert 'answer_type' in pack.meta_keys
    if path.startswith('configs/alpro/'):
        assert cfg.load_from == 'work_dirs/pretrain_webvid/epoch_10.pth'
        assert cfg.model.text_encoder.fusion_layer == 6
        assert cfg.optim_wrapper.type == 'SyncFreeOptimWrapper'


def test_release_settings():
    ret = Config.fromfile(REPO / 'configs/alpro/finetune_msrvtt_ret.py')
    assert ret.train_dataloader.dataset.ann_file.endswith(
        'msrvtt_ret/txt/train.jsonl')  # ALPRO's 7k split
    assert ret.train_dataloader.dataset.pipeline[1].num_frames == 8
    assert ret.model.data_preprocessor.max_length == 40
    assert ret.optim_wrapper.optimizer.lr == 2.5e-5
    qa = Config.fromfile(REPO / 'configs/alpro/finetune_msvd_qa.py')
    assert qa.train_dataloader.dataset.pipeline[1].num_frames == 16
    assert qa.train_dataloader.dataset.video_ext == '.avi'
    assert qa.model.num_answers == 2423
    assert qa.optim_wrapper.accumulative_counts == 2


@pytest.mark.slow
def test_demo_qa_trains_one_epoch(demo_corpus, tmp_path):
    ans2label = (
        demo_corpus / 'data/demo/annotations/demo_qa/train_ans2label.json')
    num_answers = len(json.loads(ans2label.read_text()))
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        TORCH_FORCE_WEIGHTS_ONLY_LOAD='1',
        ALPRO_DISABLE_PLUGIN_AUTOLOAD='1',
        OMP_NUM_THREADS='1')
    done = subprocess.run([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(REPO / 'configs/demo/finetune_msrvtt_qa.py'), '--work-dir',
        str(tmp_path), '--cfg-options', 'load_from=None',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        f'model.num_answers={num_answers}'
    ],
                          cwd=demo_corpus,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert 'qa/acc' in output, output[-4000:]
    assert (tmp_path / 'epoch_1.pth').exists()
