"""AlproPretrainer checks its tasks against its data preprocessor when it
is built: MLM and PEM inputs the preprocessor does not make, and PEM
regions cut on another patch grid than the backbone's, fail then, with a
message naming both settings (they failed at the first step with a bare
``KeyError``, or not at all)."""
import pytest
import torch

from alpro.registry import MODELS
from tests.test_models.test_prompters.tiny_entity_prompter import \
    entity_prompter_cfg
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor, tiny_text_encoder)


def pretrain_preprocessor(tokenizer_dir, **kwargs) -> dict:
    kwargs.setdefault('mlm_probability', 0.15)
    kwargs.setdefault('pem', dict(patch_size=8))  # TINY_TIMESFORMER's
    return tiny_preprocessor(
        tokenizer_dir, type='AlproPretrainDataPreprocessor', **kwargs)


def build(tokenizer_dir, data_preprocessor, tasks, prompter=None, **kwargs):
    return MODELS.build(
        dict(
            type='AlproPretrainer',
            data_preprocessor=data_preprocessor,
            backbone=TINY_TIMESFORMER,
            text_encoder=tiny_text_encoder(),
            prompter=prompter,
            tasks=tasks,
            embed_dim=16,
            **kwargs))


def entity_prompter(tokenizer_dir, stage_one) -> dict:
    checkpoint, entities = stage_one
    return entity_prompter_cfg(tokenizer_dir, checkpoint, entities)


def message_of(tokenizer_dir, data_preprocessor, tasks) -> str:
    with pytest.raises(ValueError) as error:
        build(tokenizer_dir, data_preprocessor, tasks)
    return str(error.value)


def test_mlm_without_masking_fails_at_build(tokenizer_dir):
    message = message_of(
        tokenizer_dir,
        pretrain_preprocessor(tokenizer_dir, mlm_probability=0),
        tasks=('vtc', 'mlm'))
    for part in ("AlproPretrainer: tasks include 'mlm'",
                 'AlproPretrainDataPreprocessor has mlm_probability=0.0',
                 'mlm_text_ids, mlm_labels',
                 'set model.data_preprocessor.mlm_probability > 0',
                 "drop 'mlm' from model.tasks"):
        assert part in message, (part, message)


def test_mlm_with_the_plain_preprocessor_fails_at_build(tokenizer_dir):
    message = message_of(
        tokenizer_dir, tiny_preprocessor(tokenizer_dir), tasks=('mlm', ))
    for part in ("tasks include 'mlm'", 'data_preprocessor '
                 'VideoTextDataPreprocessor makes only video, text_ids, '
                 'text_mask, no mlm_text_ids, mlm_labels',
                 "type='AlproPretrainDataPreprocessor'"):
        assert part in message, (part, message)


def test_pem_without_regions_fails_at_build(tokenizer_dir):
    message = message_of(
        tokenizer_dir,
        pretrain_preprocessor(tokenizer_dir, pem=None),
        tasks=('vtc', 'pem'))
    for part in ("tasks include 'pem'",
                 'AlproPretrainDataPreprocessor has pem=None',
                 'pem_crop, pem_region',
                 'model.data_preprocessor.pem=dict(patch_size=8)'):
        assert part in message, (part, message)


def test_pem_patch_size_must_be_the_backbone_s(tokenizer_dir):
    message = message_of(
        tokenizer_dir,
        pretrain_preprocessor(tokenizer_dir, pem=dict(patch_size=16)),
        tasks=('vtc', 'vtm', 'pem'))
    for part in ('AlproPretrainDataPreprocessor has pem.patch_size=16',
                 'backbone TimeSformer has patch_size=8',
                 'set model.data_preprocessor.pem.patch_size=8'):
        assert part in message, (part, message)


def test_inputs_of_tasks_that_are_off_are_not_required(tokenizer_dir):
    # no MLM masks, PEM regions on another grid: neither task is on
    model = build(
        tokenizer_dir,
        pretrain_preprocessor(
            tokenizer_dir, mlm_probability=0, pem=dict(patch_size=16)),
        tasks=('vtc', 'vtm'))
    assert model.tasks == ('vtc', 'vtm')
    retrieval = MODELS.build(
        dict(
            type='AlproRetrieval',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            text_encoder=tiny_text_encoder(),
            embed_dim=16))
    assert retrieval.tasks == ('vtc', 'vtm')


def test_a_good_config_builds_and_steps(tokenizer_dir, stage_one):
    torch.manual_seed(0)
    model = build(
        tokenizer_dir,
        pretrain_preprocessor(tokenizer_dir),
        tasks=('vtc', 'vtm', 'mlm', 'pem'),
        prompter=entity_prompter(tokenizer_dir, stage_one))
    model.init_weights()
    model.prompter.build_cache()
    data = model.data_preprocessor(
        tiny_batch(('red circle moves left', 'blue square moves up'), 4), True)
    out = model(**data, mode='loss')
    assert {'loss_vtc', 'loss_vtm', 'loss_mlm', 'loss_pem'} <= set(out)
