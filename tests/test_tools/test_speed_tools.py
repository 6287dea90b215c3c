"""get_flops.py and benchmark_train_step.py on the demo configs, and the
offline model config they build from."""
from pathlib import Path

import pytest
from mmengine.config import Config

from alpro.utils.synthetic_inputs import (BERT_BASE_UNCASED, offline_model_cfg,
                                          synthetic_batch)
from tests.tool_modules import load_tool

REPO = Path(__file__).resolve().parents[2]
benchmark_train_step = load_tool('tools/analysis/benchmark_train_step.py')
get_flops = load_tool('tools/analysis/get_flops.py')


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from walk(value)


def test_offline_cfg_needs_no_file_at_any_depth():
    cfg = Config.fromfile(REPO / 'configs/alpro/pretrain_webvid.py')
    model = offline_model_cfg(cfg, '/tmp/tok', '/tmp/entities.txt')
    nodes = list(walk(model.to_dict()))
    assert not any(n.get('pretrained') for n in nodes)
    assert model.prompter.checkpoint is None
    assert model.prompter.entity_file == '/tmp/entities.txt'
    tokenizers = [n['tokenizer']['path'] for n in nodes if 'tokenizer' in n]
    assert len(tokenizers) == 3 and set(tokenizers) == {'/tmp/tok'}
    assert model.text_encoder.config == BERT_BASE_UNCASED
    assert model.prompter.prompter.text_encoder.config == BERT_BASE_UNCASED
    demo = offline_model_cfg(
        Config.fromfile(REPO / 'configs/demo/pretrain.py'), 't', 'e')
    assert 'init_cfg' not in demo.text_encoder  # a Pretrained init
    # the config itself is left alone
    assert cfg.model.prompter.checkpoint.endswith('epoch_10.pth')


def test_synthetic_batch_fills_max_length():
    cfg = Config.fromfile(REPO / 'configs/demo/pretrain.py')
    batch = synthetic_batch(cfg, 3)
    assert [tuple(c.shape) for c in batch['inputs']] == [(8, 3, 64, 64)] * 3
    assert len(batch['data_samples'][0].text.split()) == 22  # 24 - 2


@pytest.mark.parametrize('config', ['pretrain_prompter', 'pretrain'])
def test_tools_run_on_the_demo_configs(config):
    cfg = Config.fromfile(REPO / f'configs/demo/{config}.py')
    flops = get_flops.count_flops(cfg)
    assert flops['gflops'] == pytest.approx(2 * flops['gmacs'])
    assert flops['gflops'] > 0.01
    result = benchmark_train_step.benchmark(
        cfg, batch_size=4, amp=False, iters=1, warmup=1, device='cpu')
    assert result['samples_per_s'] > 0
    # a training step: forward + backward, about 3x the forward
    per_video = result['tflop_per_step'] * 1e3 / 4
    assert 2 * flops['gflops'] < per_video < 5 * flops['gflops']


def test_op_count_sees_autocast_casts():
    """--count-ops: one eager step's aten operators; bf16 autocast (on the
    CPU here) adds dtype casts, the matrix products stay the same."""
    cfg = Config.fromfile(REPO / 'configs/demo/pretrain.py')
    counts = [
        benchmark_train_step.benchmark(
            cfg,
            batch_size=4,
            amp=amp,
            iters=1,
            warmup=0,
            device='cpu',
            ops=True)['op_counts'] for amp in (False, True)
    ]
    fp32, bf16 = counts
    assert fp32['matmuls'] == bf16['matmuls'] > 0
    assert fp32['attention'] == bf16['attention'] > 0
    assert bf16['casts'] > fp32['casts'] + 50
    assert bf16['total'] > bf16['matmuls'] + bf16['casts']
