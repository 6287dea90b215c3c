"""get_flops.py and benchmark_train_step.py on the demo configs, and the
offline model config they build from."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from alpro.utils.synthetic_inputs import (build_random_model,
                                          offline_model_cfg, synthetic_batch)
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


def test_offline_cfg_swaps_tokenizers_and_entity_files_at_any_depth():
    cfg = Config.fromfile(REPO / 'configs/alpro/pretrain_webvid.py')
    model = offline_model_cfg(cfg, '/tmp/tok', '/tmp/entities.txt')
    nodes = list(walk(model.to_dict()))
    assert model.prompter.entity_file == '/tmp/entities.txt'
    tokenizers = [n['tokenizer']['path'] for n in nodes if 'tokenizer' in n]
    assert len(tokenizers) == 3 and set(tokenizers) == {'/tmp/tok'}
    # weights are left to init_random_weights; the config itself is kept
    assert model.text_encoder.pretrained == cfg.model.text_encoder.pretrained
    assert cfg.model.prompter.checkpoint.endswith('epoch_10.pth')


def test_random_model_reads_no_weight_file(tmp_path, monkeypatch):
    """The paper's stage-2 config names BERT-base, an ImageNet ViT and a
    stage-1 checkpoint, none of them here: its model builds and initialises
    from no file (its encoders at tiny size, to stay fast)."""
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(REPO / 'configs/alpro/pretrain_webvid.py')
    tiny = dict(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64)
    for model in (cfg.model, cfg.model.prompter.prompter):
        model.backbone.arch = 'tiny'
        model.text_encoder.config = tiny
        model.text_encoder.fusion_layer = 1
    cfg.model.prompter.num_entities = 40
    torch.manual_seed(0)
    model = build_random_model(cfg)
    assert model.prompter.num_classes == 40
    assert model.pem_head.num_entities == 40
    # the config's pretrained paths are still there, and unread
    assert model.text_encoder.pretrained.endswith('bert-base-uncased')
    assert model.backbone.pretrained.endswith('.safetensors')
    assert model.prompter._weights_source == 'random'


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
