"""CompileHook: the pre-training losses trace as one graph and compute what
the eager model computes; tools/train.py turns ``compile`` into the hook."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from alpro.engine.hooks import compile_method
from alpro.utils.cli import use_compile_hook
from alpro.utils.synthetic_inputs import build_random_model, synthetic_batch
from tests.tool_runs import run_tool

REPO = Path(__file__).resolve().parents[2]


def build(config: str):
    cfg = Config.fromfile(str(REPO / config))
    torch.manual_seed(0)
    return build_random_model(cfg), synthetic_batch(cfg, 6)


def loss_and_grads(model, inputs):
    torch.manual_seed(1)  # the same hard negatives in both runs
    losses = model.loss(inputs)
    total, _ = model.parse_losses(losses)
    total.backward()
    grads = {
        name: p.grad.clone()
        for name, p in model.named_parameters() if p.grad is not None
    }
    model.zero_grad(set_to_none=True)
    return {k: v.detach() for k, v in losses.items()}, grads


@pytest.mark.parametrize('config', [
    'configs/demo/pretrain_prompter.py', 'configs/demo/pretrain.py',
    'configs/demo/finetune_msrvtt_ret.py'
])
def test_loss_is_one_graph_equal_to_eager(config, tmp_path):
    model, batch = build(config)
    compiled = copy.deepcopy(model)
    inputs = model.data_preprocessor(batch, True)['inputs']
    torch._dynamo.reset()
    # fullgraph=True raises on any graph break; aot_eager traces forward
    # and backward as inductor would, without generating kernels
    compile_method(compiled, 'loss', backend='aot_eager', fullgraph=True)
    assert 'loss' in vars(compiled)
    eager_losses, eager_grads = loss_and_grads(model, inputs)
    losses, grads = loss_and_grads(compiled, inputs)
    assert losses.keys() == eager_losses.keys()
    for key, value in eager_losses.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-6)
    assert grads.keys() == eager_grads.keys() and len(grads) > 10
    for name, grad in eager_grads.items():
        torch.testing.assert_close(
            grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    del compiled.loss  # undone: the class's method again
    assert 'loss' not in vars(compiled)
    torch._dynamo.reset()


def test_compile_method_names_a_missing_target(tmp_path):
    model, _ = build('configs/demo/pretrain_prompter.py')
    with pytest.raises(AttributeError, match="no method 'predict_all'"):
        compile_method(model, 'predict_all')


def test_config_compile_key_becomes_the_hook():
    cfg = Config(
        dict(
            compile=dict(mode='reduce-overhead'),
            custom_hooks=[dict(type='PromptCacheHook')]))
    use_compile_hook(cfg)
    assert 'compile' not in cfg
    assert cfg.custom_hooks == [
        dict(type='PromptCacheHook'),
        dict(type='CompileHook', mode='reduce-overhead')
    ]
    cfg = Config(dict(compile=True))
    assert use_compile_hook(cfg).custom_hooks == [dict(type='CompileHook')]
    cfg = Config(dict(compile=False))
    assert 'custom_hooks' not in use_compile_hook(cfg)


def dist_train(work_dir: Path, cwd: Path, *options: str) -> str:
    """2 gloo processes, one epoch of the demo prompter."""
    return run_tool([
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(REPO / 'configs/demo/pretrain_prompter.py'), '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', *options
    ], cwd)


@pytest.mark.slow
def test_compiled_ddp_training_equals_eager(demo_corpus, tmp_path):
    """tools/dist_train.sh with a config's ``compile`` (as the hook): the
    gradients are still all-reduced, so two compiled processes end with the
    weights of two eager ones."""
    eager = dist_train(tmp_path / 'eager', demo_corpus)
    compiled = dist_train(tmp_path / 'compiled', demo_corpus,
                          'compile.backend=aot_eager',
                          'compile.fullgraph=True')
    assert 'CompileHook' not in eager
    assert 'CompileHook: PrompterPretrainer.loss compiled' in compiled
    assert "'backend': 'aot_eager'" in compiled
    weights = [
        torch.load(tmp_path / run / 'epoch_1.pth',
                   weights_only=True)['state_dict']
        for run in ('eager', 'compiled')
    ]
    assert weights[0].keys() == weights[1].keys()
    backbone_keys = 0
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, msg=key)
        backbone_keys += int(key.startswith('backbone.'))
    assert backbone_keys > 10
