"""PromptCacheHook: entity prompt embeddings computed once per run."""
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

from alpro.engine.hooks import PromptCacheHook
from alpro.registry import HOOKS
from tests.test_models.test_prompters.tiny_entity_prompter import (
    build_entity_prompter, save_stage1_checkpoint, write_entities)


class ListLogger:
    """Collects what the hook logs."""

    def __init__(self):
        self.lines = []

    def info(self, message):
        self.lines.append(('info', message))

    def warning(self, message):
        self.lines.append(('warning', message))


class Stage2(BaseModel):
    """A trainable layer next to an entity prompter, like AlproPretrainer."""

    def __init__(self, prompter: nn.Module):
        super().__init__()
        self.head = nn.Linear(2, 1)
        self.prompter = prompter

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.head(inputs)
        if mode == 'loss':
            return dict(loss=out.square().mean())
        return out


@pytest.fixture
def entity_prompter(tmp_path, tokenizer_dir):
    return build_entity_prompter(tokenizer_dir,
                                 write_entities(tmp_path / 'entities.txt'))


def test_registered():
    assert HOOKS.get('PromptCacheHook') is PromptCacheHook


@pytest.mark.parametrize('wrap', [False, True])
def test_cache_built_once_across_train_val_and_test(entity_prompter, wrap):
    model = Stage2(entity_prompter)
    if wrap:
        # a model wrapper MMEngine knows; on CPU it only holds the module
        model = nn.DataParallel(model)
    runner = SimpleNamespace(model=model, logger=ListLogger())
    hook = PromptCacheHook()
    assert hook.entity_prompters(model) == [entity_prompter]
    with mock.patch.object(
            entity_prompter.prompter,
            'encode_text',
            wraps=entity_prompter.prompter.encode_text) as encode_text:
        hook.before_train(runner)
        calls = encode_text.call_count
        assert calls > 0
        hook.before_val(runner)
        hook.before_test(runner)
        assert encode_text.call_count == calls
    assert entity_prompter.num_cache_builds == 1
    assert entity_prompter.is_cached
    levels = [level for level, _ in runner.logger.lines]
    messages = [message for _, message in runner.logger.lines]
    assert levels == ['info'] * 3
    assert '6 entities' in messages[0] and 'computed' in messages[0]
    assert all('reused' in m for m in messages[1:])


def test_a_model_without_prompter_is_reported():
    runner = SimpleNamespace(model=nn.Linear(2, 2), logger=ListLogger())
    PromptCacheHook().before_train(runner)
    assert runner.logger.lines[0][0] == 'warning'
    assert 'no EntityPrompter' in runner.logger.lines[0][1]


def test_runner_builds_the_cache_from_loaded_weights(tmp_path, tokenizer_dir):
    """Runner.train(): init_weights() loads the stage-1 checkpoint before
    before_train, so the cache holds the embeddings of the loaded weights."""
    checkpoint = tmp_path / 'epoch_10.pth'
    save_stage1_checkpoint(checkpoint, tokenizer_dir)
    entities = write_entities(tmp_path / 'entities.txt')
    prompter = build_entity_prompter(tokenizer_dir, entities, checkpoint)
    data = [dict(inputs=torch.randn(2)) for _ in range(4)]
    runner = Runner(
        model=Stage2(prompter),
        work_dir=str(tmp_path / 'work_dir'),
        experiment_name=f'prompt_cache_hook_{id(prompter)}',
        train_dataloader=DataLoader(data, batch_size=2),
        train_cfg=dict(by_epoch=False, max_iters=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type='PromptCacheHook')],
        default_scope='alpro')
    runner.train()
    runner.call_hook('before_val')
    assert prompter.num_cache_builds == 1
    assert str(checkpoint) in prompter._weights_source
    # the frozen prompter was not trained
    assert not any(p.requires_grad for p in prompter.parameters())

    expected = build_entity_prompter(tokenizer_dir, entities, checkpoint)
    expected.init_weights()
    expected.build_cache()
    assert prompter.cache_key == expected.cache_key
    torch.testing.assert_close(prompter.video_entity_embeds,
                               expected.video_entity_embeds)
    torch.testing.assert_close(prompter.image_entity_embeds,
                               expected.image_entity_embeds)
