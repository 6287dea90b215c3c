"""BertTextFusionEncoder: text encoder + fusion encoder from one BERT."""
import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from alpro.models.text_encoders import BertTextFusionEncoder
from alpro.models.text_encoders.bert_config import (ARCHITECTURE_KEYS,
                                                    BERT_ARCHS)
from alpro.registry import TEXT_ENCODERS

NUM_LAYERS = 4
FUSION_LAYER = 2
HIDDEN = 32


def tiny_config(vocab_size: int = 32, **kwargs) -> dict:
    cfg = dict(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64)
    cfg.update(kwargs)
    return cfg


def build(**kwargs) -> BertTextFusionEncoder:
    kwargs.setdefault('config', tiny_config())
    kwargs.setdefault('fusion_layer', FUSION_LAYER)
    torch.manual_seed(0)
    return BertTextFusionEncoder(**kwargs).eval()


@pytest.fixture(scope='module')
def batch():
    """Real token ids from a real fast tokenizer: row 0 padded, row 1 full.

    The vocabulary is passed as a dict: in transformers 5
    ``BertTokenizerFast(vocab_file=...)`` ignores the file and keeps only
    the special tokens (every word becomes [UNK]).
    """
    words = ('a red green blue circle square moves left right up down the '
             'on over').split()
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *words]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    tokens = tokenizer(['a red circle', 'the blue square moves left right'],
                       padding='max_length',
                       max_length=8,
                       truncation=True,
                       return_tensors='pt')
    ids, mask = tokens['input_ids'], tokens['attention_mask']
    assert mask[0].sum() < 8 and mask[1].all()
    assert (ids != tokenizer.unk_token_id).all()
    return ids, mask, len(tokenizer)


def test_shapes(batch):
    ids, mask, vocab = batch
    model = build(config=tiny_config(vocab))
    assert model.hidden_size == HIDDEN
    assert model.num_text_layers == FUSION_LAYER
    assert model.num_fusion_layers == NUM_LAYERS - FUSION_LAYER
    text = model.encode_text(ids, mask)
    assert text.shape == (2, 8, HIDDEN)  # (B, L, D)
    torch.testing.assert_close(model(ids, mask), text)
    video = torch.randn(2, 5, HIDDEN)
    fused = model.fuse(text, mask, video)
    assert fused.shape == (2, 8 + 5, HIDDEN)  # (B, L + Nv, D)
    video_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    assert model.fuse(text, mask, video, video_mask).shape == fused.shape
    assert torch.isfinite(fused).all()


def test_encode_text_matches_bert_prefix(batch):
    ids, mask, vocab = batch
    model = build(config=tiny_config(vocab))
    reference = BertModel(
        BertConfig(**tiny_config(vocab), attn_implementation='eager'),
        add_pooling_layer=False).eval()
    reference.load_state_dict(model.bert.state_dict())
    with torch.no_grad():
        expected = reference(
            input_ids=ids, attention_mask=mask,
            output_hidden_states=True).hidden_states[FUSION_LAYER]
        out = model.encode_text(ids, mask)
    real = mask.bool()
    torch.testing.assert_close(out[real], expected[real], atol=1e-5, rtol=0)
    # padded queries also see only the real keys, as in BertModel
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_padding_is_ignored(batch):
    ids, mask, vocab = batch
    model = build(config=tiny_config(vocab))
    pad = mask == 0
    other_ids = ids.clone()
    other_ids[pad] = 7  # any real word, where the mask is 0
    video = torch.randn(2, 5, HIDDEN)
    video_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    other_video = video.clone()
    other_video[video_mask == 0] = 100.0
    keep = torch.cat([mask, video_mask], dim=1).bool()
    with torch.no_grad():
        text = model.encode_text(ids, mask)
        other_text = model.encode_text(other_ids, mask)
        fused = model.fuse(text, mask, video, video_mask)
        other_fused = model.fuse(other_text, mask, other_video, video_mask)
    torch.testing.assert_close(other_text[~pad], text[~pad])
    torch.testing.assert_close(other_fused[keep], fused[keep])
    # the changes did reach the padded positions themselves
    assert not torch.allclose(other_text[pad], text[pad])
    assert not torch.allclose(other_fused[~keep], fused[~keep])


def test_attention_is_bidirectional(batch):
    ids, mask, vocab = batch
    model = build(config=tiny_config(vocab))
    last = int(mask[0].sum()) - 1  # the last real token of row 0 ([SEP])
    other_ids = ids.clone()
    other_ids[0, last - 1] = 7
    video = torch.randn(2, 5, HIDDEN)
    other_video = video.clone()
    other_video[:, -1] += 1.0
    with torch.no_grad():
        text = model.encode_text(ids, mask)
        other_text = model.encode_text(other_ids, mask)
        fused = model.fuse(text, mask, video)
        other_fused = model.fuse(text, mask, other_video)
    # a later token changes the [CLS] output of both encoders
    assert not torch.allclose(other_text[0, 0], text[0, 0])
    assert not torch.allclose(other_fused[:, 0], fused[:, 0])
    # the first video token sees the last one too
    assert not torch.allclose(other_fused[:, 8], fused[:, 8])


def test_fusion_mixes_modalities(batch):
    ids, mask, vocab = batch
    model = build(config=tiny_config(vocab))
    video = torch.randn(2, 5, HIDDEN)
    with torch.no_grad():
        text = model.encode_text(ids, mask)
        fused = model.fuse(text, mask, video)
        other = model.fuse(text, mask, video + 1.0)
    real = mask.bool()
    assert not torch.allclose(other[:, :8][real], fused[:, :8][real])


def test_text_only(batch):
    ids, mask, vocab = batch
    full = build(config=tiny_config(vocab))
    model = build(config=tiny_config(vocab), text_only=True)
    assert model.num_fusion_layers == 0
    assert len(model.bert.encoder.layer) == FUSION_LAYER
    layers = {
        int(k.split('.')[3])
        for k in model.state_dict() if k.startswith('bert.encoder.layer.')
    }
    assert layers == set(range(FUSION_LAYER))
    # same seed, same text weights: the text encoder is unchanged
    model.load_state_dict({
        k: v
        for k, v in full.state_dict().items() if k in model.state_dict()
    })
    with torch.no_grad():
        torch.testing.assert_close(
            model.encode_text(ids, mask), full.encode_text(ids, mask))
    text = model.encode_text(ids, mask)
    with pytest.raises(RuntimeError, match='text_only'):
        model.fuse(text, mask, torch.randn(2, 5, HIDDEN))


def test_video_width_must_match(batch):
    ids, mask, vocab = batch
    model = build(config=tiny_config(vocab))
    text = model.encode_text(ids, mask)
    with pytest.raises(ValueError, match='width 16'):
        model.fuse(text, mask, torch.randn(2, 5, 16))


def test_pretrained_round_trip(tmp_path, batch):
    ids, mask, vocab = batch
    torch.manual_seed(1)
    saved = BertModel(BertConfig(**tiny_config(vocab)))
    saved.save_pretrained(tmp_path)
    expected = saved.state_dict()

    model = BertTextFusionEncoder(
        pretrained=str(tmp_path),
        config=tiny_config(vocab),
        fusion_layer=FUSION_LAYER)
    assert model.bert.config.num_hidden_layers == NUM_LAYERS
    assert model.bert.config._attn_implementation == 'sdpa'
    # the weights arrive in init_weights(), and survive a second call
    for _ in range(2):
        model.init_weights()
        state = model.bert.state_dict()
        for key, value in state.items():
            torch.testing.assert_close(value, expected[key], msg=key)

    text_only = BertTextFusionEncoder(
        pretrained=str(tmp_path),
        config=tiny_config(vocab),
        fusion_layer=FUSION_LAYER,
        text_only=True)
    text_only.init_weights()
    for key, value in text_only.bert.state_dict().items():
        torch.testing.assert_close(value, expected[key], msg=key)


def test_fusion_from_text_layers(tmp_path):
    """A text-only encoder's checkpoint (a stage-1 prompter's) loaded by
    ``init_cfg``: the text layers are the checkpoint's and each fusion layer
    starts as a copy of the text layer below it, also after a second
    ``init_weights()``."""
    torch.manual_seed(1)
    text_only = BertTextFusionEncoder(
        config=tiny_config(), fusion_layer=FUSION_LAYER, text_only=True)
    saved = {f'text_encoder.{k}': v for k, v in text_only.state_dict().items()}
    checkpoint = tmp_path / 'prompter.pth'
    torch.save(dict(state_dict=saved), checkpoint)

    model = build(
        fusion_from_text_layers=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(checkpoint),
            prefix='text_encoder.'))
    layers = model.bert.encoder.layer
    assert not torch.equal(layers[0].output.dense.weight,
                           layers[FUSION_LAYER].output.dense.weight)
    for _ in range(2):
        model.init_weights()
        for key, value in text_only.state_dict().items():
            torch.testing.assert_close(model.state_dict()[key], value)
        for i in range(NUM_LAYERS - FUSION_LAYER):
            fusion = layers[FUSION_LAYER + i].state_dict()
            for key, value in layers[i].state_dict().items():
                assert torch.equal(fusion[key], value), (i, key)
    # the copies are parameters of their own, trained apart
    assert (layers[0].output.dense.weight.data_ptr()
            != layers[FUSION_LAYER].output.dense.weight.data_ptr())


@pytest.mark.parametrize('kwargs', [
    dict(text_only=True),
    dict(fusion_layer=1),
    dict(fusion_layer=NUM_LAYERS),
])
def test_fusion_from_text_layers_needs_enough_text_layers(kwargs):
    with pytest.raises(ValueError, match='fusion_from_text_layers'):
        build(fusion_from_text_layers=True, **kwargs)


def test_init_weights_keeps_random_init():
    model = build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_missing_pretrained_folder(tmp_path):
    path = str(tmp_path / 'no-bert-here')
    model = build(pretrained=path)
    with pytest.raises(FileNotFoundError) as err:
        model.init_weights()
    assert path in str(err.value)
    assert 'save_pretrained' in str(err.value)


def test_with_cp_same_outputs_and_gradients(batch, monkeypatch):
    from alpro.models.text_encoders import bert_text_fusion_encoder
    calls = []

    def counting_checkpoint(*args, **kwargs):
        calls.append(kwargs.get('use_reentrant'))
        return torch.utils.checkpoint.checkpoint(*args, **kwargs)

    monkeypatch.setattr(bert_text_fusion_encoder, 'checkpoint',
                        counting_checkpoint)
    ids, mask, vocab = batch
    results = []
    for with_cp in (False, True):
        model = build(config=tiny_config(vocab), with_cp=with_cp).train()
        video = torch.randn(
            2, 5, HIDDEN, generator=torch.Generator().manual_seed(0))
        video.requires_grad_(True)
        torch.manual_seed(123)  # the same dropout masks in both runs
        text = model.encode_text(ids, mask)
        fused = model.fuse(text, mask, video)
        fused.square().mean().backward()
        grads = {
            n: p.grad.clone()
            for n, p in model.named_parameters() if p.grad is not None
        }
        results.append((fused.detach(), video.grad.clone(), grads))
    # one checkpointed call per layer, only in the with_cp run
    assert calls == [False] * NUM_LAYERS
    (out0, vgrad0, grads0), (out1, vgrad1, grads1) = results
    torch.testing.assert_close(out1, out0)
    torch.testing.assert_close(vgrad1, vgrad0)
    assert grads0.keys() == grads1.keys() and len(grads0) > 0
    for name in grads0:
        torch.testing.assert_close(grads1[name], grads0[name], msg=name)


@pytest.mark.parametrize('fusion_layer', [0, -1, NUM_LAYERS + 1])
def test_fusion_layer_validation(fusion_layer):
    with pytest.raises(ValueError, match='fusion_layer'):
        BertTextFusionEncoder(config=tiny_config(), fusion_layer=fusion_layer)


def test_all_layers_text_is_allowed():
    model = build(fusion_layer=NUM_LAYERS)
    assert model.num_fusion_layers == 0 and model.num_text_layers == 4


def test_builds_bert_base_from_no_file():
    model = BertTextFusionEncoder(text_only=True)
    assert model.architecture == {
        **{
            key: getattr(BertConfig(), key)
            for key in ARCHITECTURE_KEYS
        },
        **BERT_ARCHS['bert-base-uncased']
    }
    assert model.num_text_layers == 6 and model.vocab_size == 30522
    with pytest.raises(ValueError, match="unknown config 'bert-large'"):
        BertTextFusionEncoder(config='bert-large')


def test_pretrained_folder_of_another_architecture(tmp_path):
    BertModel(BertConfig(**tiny_config())).save_pretrained(tmp_path)
    model = build(
        pretrained=str(tmp_path),
        config=tiny_config(intermediate_size=48, layer_norm_eps=1e-6))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    message = str(err.value)
    assert 'intermediate_size: config 48, folder 64' in message
    assert 'layer_norm_eps: config 1e-06, folder 1e-12' in message
    assert 'hidden_size' not in message


def test_refuses_decoder_config():
    with pytest.raises(ValueError, match='is_decoder'):
        BertTextFusionEncoder(config=tiny_config(is_decoder=True))
    with pytest.raises(ValueError, match='attn_implementation'):
        BertTextFusionEncoder(config=tiny_config(attn_implementation='eager'))


def test_build_from_registry():
    model = TEXT_ENCODERS.build(
        dict(
            type='BertTextFusionEncoder',
            config=tiny_config(),
            fusion_layer=FUSION_LAYER))
    assert isinstance(model, BertTextFusionEncoder)
    assert model.bert.config._attn_implementation == 'sdpa'
    assert not model.bert.config.is_decoder
    assert model.bert.pooler is None
