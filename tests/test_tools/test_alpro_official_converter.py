"""tools/model_converters/alpro_official_to_alpro.py on tiny state dicts
written with the key layout of the original ALPRO (salesforce/ALPRO:
``alpro_models.py``, ``timesformer/vit.py``, ``xbert.py``)."""
import argparse
from typing import Dict

import pytest
import torch

from alpro.registry import MODELS
from tests import release_checkpoints as rc
from tests.test_models.test_algorithms.test_alpro_pretrainer import (batch,
                                                                     build)
from tests.test_models.test_prompters import tiny_entity_prompter
from tests.tool_modules import load_tool

conv = load_tool('tools/model_converters/alpro_official_to_alpro.py')

#: the tiny models of the algorithm tests (TimeSformer 64 wide, BERT 32)
SIZES = rc.Sizes(entities=len(tiny_entity_prompter.ENTITIES))
#: ours has a video->text projection the original (768 = 768) lacks
VIDEO_TO_TEXT = {'video_to_text.weight', 'video_to_text.bias'}


def _fill(shapes, seed: int = 0):
    return rc.fill(shapes, SIZES.positions, seed)


def original_pretrain(prompter_layers: int = 4) -> Dict[str, torch.Tensor]:
    """``AlproForPretrain``: the base model, ``mpm_head`` and the whole
    ``Prompter`` under ``prompter.``."""
    return _fill(rc.pretrain(SIZES, prompter_layers=prompter_layers))


def _unmapped_of_base(prefix: str = '') -> set:
    return {
        f'{prefix}visual_encoder.model.head.weight',
        f'{prefix}visual_encoder.model.head.bias',
        f'{prefix}text_encoder.bert.embeddings.position_ids'
    }


@pytest.fixture(scope='module')
def pretrainer(tokenizer_dir, stage_one):
    torch.manual_seed(0)
    return build(tokenizer_dir, stage_one).eval()


def test_pretrain_lands_on_our_keys(pretrainer):
    original = original_pretrain()
    assert conv.detect_kind(original) == 'pretrain'
    ours, unmapped = conv.convert_state_dict(original, prompter_text_layers=2)

    missing, unexpected = pretrainer.load_state_dict(ours, strict=False)
    assert set(missing) == VIDEO_TO_TEXT
    assert unexpected == []
    assert set(unmapped) == (
        _unmapped_of_base() | _unmapped_of_base('prompter.') | {
            'prompter.video_prompt_feat', 'prompter.image_prompt_feat',
            'prompter.itm_head.weight', 'prompter.itm_head.bias'
        }
        | {k
           for k in original if k.startswith('prompter.text_encoder.cls.')} | {
               k
               for k in original
               if k.startswith('prompter.text_encoder.bert.encoder.layer.')
               and int(k.split('.')[5]) >= 2
           })

    state = pretrainer.state_dict()
    pairs = {
        'visual_encoder.model.blocks.1.temporal_norm1.weight':
        'backbone.blocks.1.temporal_norm.weight',
        'visual_encoder.model.blocks.0.attn.qkv.weight':
        'backbone.blocks.0.attn.qkv.weight',
        'visual_encoder.model.time_embed':
        'backbone.time_embed',
        'text_encoder.bert.encoder.layer.3.attention.self.key.weight':
        'text_encoder.bert.encoder.layer.3.attention.self.key.weight',
        'text_encoder.cls.predictions.transform.dense.weight':
        'mlm_head.predictions.transform.dense.weight',
        'text_encoder.cls.predictions.bias':
        'mlm_head.predictions.bias',
        'text_encoder.bert.embeddings.word_embeddings.weight':
        'mlm_head.predictions.decoder.weight',
        'temp':
        'vtc_head.temp',
        'itm_head.weight':
        'vtm_head.fc.weight',
        'mpm_head.2.bias':
        'pem_head.mlp.2.bias',
        'vision_proj.weight':
        'vision_proj.weight',
        'prompter.visual_encoder.model.blocks.0.temporal_norm1.bias':
        'prompter.prompter.backbone.blocks.0.temporal_norm.bias',
        'prompter.text_encoder.bert.encoder.layer.1.output.dense.weight':
        'prompter.prompter.text_encoder.bert.encoder.layer.1.output.dense.'
        'weight',
        'prompter.temp':
        'prompter.prompter.vtc_head.temp',
    }
    for old, new in pairs.items():
        assert torch.equal(state[new], original[old]), (old, new)
    # the MLM decoder stays tied to the word embeddings
    assert pretrainer.mlm_head.decoder_weight is \
        pretrainer.text_encoder.bert.embeddings.word_embeddings.weight


def test_prompter_kind(tokenizer_dir):
    original = _fill(rc.prompter(SIZES), seed=1)
    assert conv.detect_kind(original) == 'prompter'
    ours, unmapped = conv.convert_state_dict(original, prompter_text_layers=2)
    model = MODELS.build(tiny_entity_prompter.prompter_cfg(tokenizer_dir))
    missing, unexpected = model.load_state_dict(ours, strict=False)
    assert missing == [] and unexpected == []
    assert 'itm_head.weight' in unmapped
    assert 'video_prompt_feat' in unmapped
    assert 'text_encoder.cls.predictions.bias' in unmapped
    assert 'text_encoder.bert.encoder.layer.2.output.dense.bias' in unmapped
    assert torch.equal(model.state_dict()['vtc_head.temp'], original['temp'])
    # without a layer limit every BERT layer maps
    ours, _ = conv.convert_state_dict(original, 'prompter')
    assert 'text_encoder.bert.encoder.layer.3.output.dense.bias' in ours


def test_qa_and_retrieval_heads_and_foreign_layers():
    td = SIZES.text_width
    shapes = rc.video_qa(SIZES, answers=7)
    shapes.update({
        'text_encoder.encoder.layer.3.crossattention.self.query.weight':
        (td, td),
        'text_encoder.pooler.dense.weight': (td, td),
    })
    qa = _fill(shapes, seed=2)
    assert conv.detect_kind(qa) == 'qa'
    ours, unmapped = conv.convert_state_dict(qa)
    assert torch.equal(ours['qa_head.fc2.weight'], qa['classifier.2.weight'])
    assert torch.equal(ours['qa_head.fc1.bias'], qa['classifier.0.bias'])
    assert torch.equal(
        ours['text_encoder.bert.encoder.layer.0.output.dense.weight'],
        qa['text_encoder.encoder.layer.0.output.dense.weight'])
    assert set(unmapped) == {
        'visual_encoder.model.head.weight', 'visual_encoder.model.head.bias',
        'text_encoder.embeddings.position_ids', 'itm_head.weight',
        'itm_head.bias', 'vision_proj.weight', 'vision_proj.bias',
        'text_proj.weight', 'text_proj.bias', 'temp',
        'text_encoder.encoder.layer.3.crossattention.self.query.weight',
        'text_encoder.pooler.dense.weight'
    }

    retrieval = _fill(rc.base_model(SIZES), seed=3)
    assert conv.detect_kind(retrieval) == 'retrieval'
    ours, unmapped = conv.convert_state_dict(retrieval)
    assert torch.equal(ours['vtm_head.fc.bias'], retrieval['itm_head.bias'])
    assert set(unmapped) == _unmapped_of_base()
    with pytest.raises(ValueError):
        conv.convert_state_dict(retrieval, 'nope')


def test_inverse_round_trip_and_same_outputs(tokenizer_dir, stage_one,
                                             pretrainer):
    ours = pretrainer.state_dict()
    original, left = conv.invert_state_dict(ours, 'pretrain')
    assert set(left) == VIDEO_TO_TEXT
    assert 'visual_encoder.model.blocks.0.temporal_norm1.weight' in original
    assert 'prompter.visual_encoder.model.cls_token' in original
    back, unmapped = conv.convert_state_dict(original)
    assert unmapped == []
    assert set(back) == set(ours) - VIDEO_TO_TEXT
    for key, value in back.items():
        assert torch.equal(value, ours[key]), key

    torch.manual_seed(123)  # a different random model
    other = build(tokenizer_dir, stage_one).eval()
    assert not torch.equal(other.state_dict()['backbone.cls_token'],
                           ours['backbone.cls_token'])
    other.load_state_dict(
        dict(back, **{k: ours[k]
                      for k in VIDEO_TO_TEXT}), strict=True)
    inputs = pretrainer.data_preprocessor(batch(size=2), False)['inputs']
    with torch.no_grad():
        expected, got = ([
            *model.encode_video(inputs['video']),
            *model.encode_text(inputs['text_ids'], inputs['text_mask'])
        ] for model in (pretrainer, other))
    for a, b in zip(expected, got):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_main_round_trip(tmp_path, capsys):
    original = original_pretrain()
    src, dst = tmp_path / 'alpro_pretrained_ckpt.pt', tmp_path / 'out.pth'
    torch.save(original, src)
    assert conv.main([str(src), str(dst), '--prompter-text-layers', '2']) == 0
    saved = torch.load(dst, weights_only=True)
    assert saved['meta'] == dict(converted_from=str(src), kind='pretrain')
    expected, unmapped = conv.convert_state_dict(original, 'pretrain', 2)
    assert saved['state_dict'].keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(saved['state_dict'][key], value), key
    report = capsys.readouterr().out
    assert f'mapped: {len(expected)} of {len(original)}' in report
    assert f'unmapped original keys ({len(unmapped)})' in report
    assert 'visual_encoder.model.head.weight' in report
    assert 'unchecked (no --config)' in report
    assert f'written: {dst}' in report


def test_main_refuses_unsafe_globals(tmp_path):
    src = tmp_path / 'pickled.pt'
    torch.save(dict(args=argparse.Namespace(lr=1.0), temp=torch.ones(())), src)
    with pytest.raises(SystemExit, match='re-save it as a plain state dict'):
        conv.main([str(src), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()
