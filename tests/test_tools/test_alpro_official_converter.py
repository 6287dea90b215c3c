"""tools/model_converters/alpro_official_to_alpro.py on tiny state dicts
written with the key layout of the original ALPRO (salesforce/ALPRO:
``alpro_models.py``, ``timesformer/vit.py``, ``xbert.py``)."""
import argparse
import importlib.util
from pathlib import Path
from typing import Dict

import pytest
import torch
# tests/ is on sys.path (its conftest); the helpers are namespace modules
from test_models.test_algorithms.test_alpro_pretrainer import batch, build
from test_models.test_prompters.tiny_entity_prompter import (ENTITIES,
                                                             prompter_cfg)

from alpro.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location(
    'alpro_official_to_alpro',
    ROOT / 'tools' / 'model_converters' / 'alpro_official_to_alpro.py')
conv = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(conv)

# the tiny models of the algorithm tests
VD, DEPTH, FRAMES, PATCHES, PATCH = 64, 2, 2, 16, 8
TD, VOCAB, POS, INTER = 32, 64, 32, 64
EMBED = 16
#: ours has a video->text projection the original (768 = 768) lacks
VIDEO_TO_TEXT = {'video_to_text.weight', 'video_to_text.bias'}


def _timesformer(prefix: str) -> Dict[str, tuple]:
    """Names and shapes of the original TimeSformer (``TimeSformer.model``
    is a ``VisionTransformer``, divided space-time, qkv_bias)."""
    p = f'{prefix}visual_encoder.model.'
    shapes = {
        f'{p}cls_token': (1, 1, VD),
        f'{p}pos_embed': (1, PATCHES + 1, VD),
        f'{p}time_embed': (1, FRAMES, VD),
        f'{p}patch_embed.proj.weight': (VD, 3, PATCH, PATCH),
        f'{p}patch_embed.proj.bias': (VD, ),
        f'{p}norm.weight': (VD, ),
        f'{p}norm.bias': (VD, ),
        f'{p}head.weight': (400, VD),
        f'{p}head.bias': (400, ),
    }
    for i in range(DEPTH):
        b = f'{p}blocks.{i}.'
        for norm in ('norm1', 'norm2', 'temporal_norm1'):
            shapes[f'{b}{norm}.weight'] = (VD, )
            shapes[f'{b}{norm}.bias'] = (VD, )
        for attn in ('attn', 'temporal_attn'):
            shapes[f'{b}{attn}.qkv.weight'] = (3 * VD, VD)
            shapes[f'{b}{attn}.qkv.bias'] = (3 * VD, )
            shapes[f'{b}{attn}.proj.weight'] = (VD, VD)
            shapes[f'{b}{attn}.proj.bias'] = (VD, )
        shapes[f'{b}temporal_fc.weight'] = (VD, VD)
        shapes[f'{b}temporal_fc.bias'] = (VD, )
        shapes[f'{b}mlp.fc1.weight'] = (2 * VD, VD)
        shapes[f'{b}mlp.fc1.bias'] = (2 * VD, )
        shapes[f'{b}mlp.fc2.weight'] = (VD, 2 * VD)
        shapes[f'{b}mlp.fc2.bias'] = (VD, )
    return shapes


def _bert(p: str, layers: int) -> Dict[str, tuple]:
    """Names and shapes of xbert's ``BertModel`` under prefix ``p``."""
    shapes = {
        f'{p}embeddings.word_embeddings.weight': (VOCAB, TD),
        f'{p}embeddings.position_embeddings.weight': (POS, TD),
        f'{p}embeddings.token_type_embeddings.weight': (2, TD),
        f'{p}embeddings.LayerNorm.weight': (TD, ),
        f'{p}embeddings.LayerNorm.bias': (TD, ),
    }
    for i in range(layers):
        q = f'{p}encoder.layer.{i}.'
        for name in ('self.query', 'self.key', 'self.value', 'output.dense'):
            shapes[f'{q}attention.{name}.weight'] = (TD, TD)
            shapes[f'{q}attention.{name}.bias'] = (TD, )
        shapes[f'{q}attention.output.LayerNorm.weight'] = (TD, )
        shapes[f'{q}attention.output.LayerNorm.bias'] = (TD, )
        shapes[f'{q}intermediate.dense.weight'] = (INTER, TD)
        shapes[f'{q}intermediate.dense.bias'] = (INTER, )
        shapes[f'{q}output.dense.weight'] = (TD, INTER)
        shapes[f'{q}output.dense.bias'] = (TD, )
        shapes[f'{q}output.LayerNorm.weight'] = (TD, )
        shapes[f'{q}output.LayerNorm.bias'] = (TD, )
    return shapes


def _base(prefix: str = '', layers: int = 4) -> Dict[str, tuple]:
    """``AlproBaseModel`` with a ``BertForMaskedLM`` text encoder."""
    shapes = _timesformer(prefix)
    shapes.update(_bert(f'{prefix}text_encoder.bert.', layers))
    c = f'{prefix}text_encoder.cls.predictions.'
    shapes.update({
        f'{c}bias': (VOCAB, ),
        f'{c}transform.dense.weight': (TD, TD),
        f'{c}transform.dense.bias': (TD, ),
        f'{c}transform.LayerNorm.weight': (TD, ),
        f'{c}transform.LayerNorm.bias': (TD, ),
        f'{prefix}vision_proj.weight': (EMBED, VD),
        f'{prefix}vision_proj.bias': (EMBED, ),
        f'{prefix}text_proj.weight': (EMBED, TD),
        f'{prefix}text_proj.bias': (EMBED, ),
        f'{prefix}temp': (),
        f'{prefix}itm_head.weight': (2, TD),
        f'{prefix}itm_head.bias': (2, ),
    })
    return shapes


def _fill(shapes: Dict[str, tuple], seed: int = 0) -> Dict[str, torch.Tensor]:
    """Distinct random values; BERT's ties as in a real state dict
    (``decoder.weight`` is the word embeddings, ``decoder.bias`` the
    head's bias) and the ``position_ids`` buffer."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    for key in list(state):
        if key.endswith('cls.predictions.bias'):
            head = key[:-len('bias')]
            words = head.replace('cls.predictions.',
                                 'bert.embeddings.word_embeddings.weight')
            state[f'{head}decoder.weight'] = state[words]
            state[f'{head}decoder.bias'] = state[key]
        if key.endswith('embeddings.word_embeddings.weight'):
            ids = key.replace('word_embeddings.weight', 'position_ids')
            state[ids] = torch.arange(POS).unsqueeze(0)
    return state


def original_pretrain(prompter_layers: int = 4) -> Dict[str, torch.Tensor]:
    """``AlproForPretrain``: the base model, ``mpm_head`` and the whole
    ``Prompter`` under ``prompter.``."""
    shapes = _base()
    shapes.update({
        'mpm_head.0.weight': (2 * TD, TD),
        'mpm_head.0.bias': (2 * TD, ),
        'mpm_head.2.weight': (len(ENTITIES), 2 * TD),
        'mpm_head.2.bias': (len(ENTITIES), ),
    })
    shapes.update(_prompter_shapes('prompter.', prompter_layers))
    return _fill(shapes)


def _prompter_shapes(prefix: str, layers: int) -> Dict[str, tuple]:
    shapes = _base(prefix, layers)
    shapes[f'{prefix}video_prompt_feat'] = (len(ENTITIES), EMBED)
    shapes[f'{prefix}image_prompt_feat'] = (len(ENTITIES), EMBED)
    return shapes


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
        'vtc_loss.temp',
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
        'prompter.prompter.vtc_loss.temp',
    }
    for old, new in pairs.items():
        assert torch.equal(state[new], original[old]), (old, new)
    # the MLM decoder stays tied to the word embeddings
    assert pretrainer.mlm_head.decoder_weight is \
        pretrainer.text_encoder.bert.embeddings.word_embeddings.weight


def test_prompter_kind(tokenizer_dir):
    original = _fill(_prompter_shapes('', 4), seed=1)
    assert conv.detect_kind(original) == 'prompter'
    ours, unmapped = conv.convert_state_dict(original, prompter_text_layers=2)
    model = MODELS.build(prompter_cfg(tokenizer_dir))
    missing, unexpected = model.load_state_dict(ours, strict=False)
    assert missing == [] and unexpected == []
    assert 'itm_head.weight' in unmapped
    assert 'video_prompt_feat' in unmapped
    assert 'text_encoder.cls.predictions.bias' in unmapped
    assert 'text_encoder.bert.encoder.layer.2.output.dense.bias' in unmapped
    assert torch.equal(model.state_dict()['vtc_loss.temp'], original['temp'])
    # without a layer limit every BERT layer maps
    ours, _ = conv.convert_state_dict(original, 'prompter')
    assert 'text_encoder.bert.encoder.layer.3.output.dense.bias' in ours


def test_qa_and_retrieval_heads_and_foreign_layers():
    shapes = _timesformer('')
    shapes.update(_bert('text_encoder.', 4))
    shapes.update({
        'classifier.0.weight': (2 * TD, TD),
        'classifier.0.bias': (2 * TD, ),
        'classifier.2.weight': (7, 2 * TD),
        'classifier.2.bias': (7, ),
        'itm_head.weight': (2, TD),
        'text_encoder.encoder.layer.3.crossattention.self.query.weight':
        (TD, TD),
        'text_encoder.pooler.dense.weight': (TD, TD),
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
        'text_encoder.encoder.layer.3.crossattention.self.query.weight',
        'text_encoder.pooler.dense.weight'
    }

    retrieval = _fill(_base(), seed=3)
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
        expected = pretrainer.encode(inputs)
        got = other.encode(inputs)
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
    assert 'skipped (no --config)' in report


def test_main_refuses_unsafe_globals(tmp_path):
    src = tmp_path / 'pickled.pt'
    torch.save(dict(args=argparse.Namespace(lr=1.0), temp=torch.ones(())), src)
    with pytest.raises(SystemExit, match='re-save it as a plain state dict'):
        conv.main([str(src), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()
