"""BaseVideoTextModel's one interface, as each algorithm builds it:
``encode_video`` / ``encode_text`` give tokens and a normalised embedding
(``None`` without projections), ``fuse`` lays out ``[text ; video]``, and
multi-clip averaging reaches every model that encodes video through it."""
import pytest
import torch
import torch.nn.functional as F

from alpro.models.algorithms import BaseVideoTextModel
from alpro.registry import MODELS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor, tiny_text_encoder)

B, L, N, D, E = 3, 8, 16, 32, 16  # N: the tiny TimeSformer's patch tokens
QUESTIONS = ('the red circle moves left', 'blue square moves up')


def build(tokenizer_dir, type, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type=type,
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            **kwargs))
    assert isinstance(model, BaseVideoTextModel)
    return model.eval()


def models(tokenizer_dir):
    encoder = tiny_text_encoder(initializer_range=0.1)
    return dict(
        retrieval=build(
            tokenizer_dir, 'AlproRetrieval', text_encoder=encoder,
            embed_dim=E),
        pretrainer=build(
            tokenizer_dir,
            'AlproPretrainer',
            text_encoder=encoder,
            tasks=('vtc', 'vtm'),
            embed_dim=E),
        qa=build(
            tokenizer_dir, 'AlproVideoQA', text_encoder=encoder,
            num_answers=5),
        prompter=build(
            tokenizer_dir,
            'PrompterPretrainer',
            text_encoder=tiny_text_encoder(text_only=True),
            embed_dim=E))


def inputs_of(model, size=B, seed=0):
    return model.data_preprocessor(tiny_batch(QUESTIONS, size, seed),
                                   False)['inputs']


def test_every_algorithm_encodes_through_the_declared_interface(tokenizer_dir):
    for name, model in models(tokenizer_dir).items():
        inputs = inputs_of(model)
        with torch.no_grad():
            video_tokens, video_embed = model.encode_video(inputs['video'])
            text_tokens, text_embed = model.encode_text(
                inputs['text_ids'], inputs['text_mask'])
        assert text_tokens.shape == (B, L, D), name
        if name == 'prompter':
            # no fusion: the video tokens stay at the backbone's width
            assert video_tokens.shape == (B, 1 + N, model.backbone.embed_dims)
            assert model.backbone.embed_dims != D
            assert model.video_to_text is None
        else:
            assert video_tokens.shape == (B, 1 + N, D), name
        if name == 'qa':
            # no contrastive space
            assert video_embed is None and text_embed is None
            assert model.vision_proj is None and model.text_proj is None
            continue
        for embed in (video_embed, text_embed):
            assert embed.shape == (B, E), name
            torch.testing.assert_close(embed.norm(dim=-1), torch.ones(B))
        torch.testing.assert_close(text_embed, model.project_text(text_tokens))
        with torch.no_grad():
            tensors = model(inputs, mode='tensor')
        torch.testing.assert_close(tensors[0], video_embed)
        torch.testing.assert_close(tensors[1], text_embed)


def test_the_projections_keep_their_state_dict_keys(tokenizer_dir):
    built = models(tokenizer_dir)
    top = {
        name: {k.split('.')[0]
               for k in model.state_dict()}
        for name, model in built.items()
    }
    encoders = {'backbone', 'text_encoder', 'data_preprocessor'}
    assert {'video_to_text', 'vision_proj', 'text_proj'} <= top['retrieval']
    assert top['pretrainer'] == top['retrieval']
    assert top['qa'] - encoders == {'video_to_text', 'qa_head'}
    assert top['prompter'] - encoders == {
        'vision_proj', 'text_proj', 'vtc_head'
    }


def test_fuse_lays_out_text_then_video(tokenizer_dir):
    model = models(tokenizer_dir)['retrieval']
    inputs = inputs_of(model)
    mask = inputs['text_mask']
    with torch.no_grad():
        video, _ = model.encode_video(inputs['video'])
        text, _ = model.encode_text(inputs['text_ids'], mask)
        fused = model.fuse(video, text, mask)
        direct = model.text_encoder.fuse(text, mask, video)
    assert fused.shape == (B, L + 1 + N, D)
    torch.testing.assert_close(fused, direct, rtol=0, atol=0)


def test_embedding_outputs_refuse_an_unknown_mode(tokenizer_dir):
    model = models(tokenizer_dir)['prompter']
    with pytest.raises(ValueError, match="mode must be 'loss', 'predict'"):
        model(inputs_of(model), mode='features')


def test_video_qa_averages_its_test_clips(tokenizer_dir):
    """QA with ``test_clips=2``: the fusion sees the mean of the two clips'
    tokens, as retrieval does."""
    model = build(
        tokenizer_dir,
        'AlproVideoQA',
        text_encoder=tiny_text_encoder(initializer_range=0.1),
        num_answers=5,
        test_clips=2)
    first, second = inputs_of(model, seed=1), inputs_of(model, seed=2)
    inputs = dict(first, video=torch.cat([first['video'], second['video']], 2))
    mask = inputs['text_mask']
    with torch.no_grad():
        averaged = (model.backbone(first['video']) +
                    model.backbone(second['video'])) / 2
        tokens, _ = model.encode_video(inputs['video'])
        torch.testing.assert_close(tokens, model.video_to_text(averaged))
        text, _ = model.encode_text(inputs['text_ids'], mask)
        expected = model.qa_head(
            model.fuse(model.video_to_text(averaged), text, mask)[:, 0])
        torch.testing.assert_close(model(inputs, mode='tensor'), expected)
        one_clip = model.qa_head(
            model.fuse(
                model.video_to_text(model.backbone(first['video'])), text,
                mask)[:, 0])
    assert not torch.allclose(expected, one_clip)
    with pytest.raises(ValueError, match='does not divide'):
        model.encode_video(torch.randn(1, 3, 3, 32, 32))


def test_zero_shot_embeddings_are_those_of_the_interface(tokenizer_dir):
    model = models(tokenizer_dir)['pretrainer']
    data = model.data_preprocessor(tiny_batch(QUESTIONS, B), False)
    with torch.no_grad():
        samples = model(**data, mode='predict')
        _, video = model.encode_video(data['inputs']['video'])
        _, text = model.encode_text(data['inputs']['text_ids'],
                                    data['inputs']['text_mask'])
    torch.testing.assert_close(
        torch.stack([s.video_embed for s in samples]), video)
    torch.testing.assert_close(
        torch.stack([s.text_embed for s in samples]), text)
    assert F.cosine_similarity(video, text).abs().max() <= 1


def test_a_checkpoint_with_the_old_vtc_key_loads(tokenizer_dir, tmp_path):
    """``vtc_loss.temp`` (the VTC temperature's key before the heads owned
    their losses) loads into ``vtc_head.temp``, through the safe loader
    and through MMEngine's ``load_checkpoint``; nothing is missing."""
    from mmengine.runner import load_checkpoint

    from alpro.utils import load_state_dict_checked
    source = models(tokenizer_dir)['prompter']
    with torch.no_grad():
        source.vtc_head.temp.fill_(0.123)
    old = {
        k.replace('vtc_head.', 'vtc_loss.'): v
        for k, v in source.state_dict().items()
    }
    assert 'vtc_loss.temp' in old and 'vtc_head.temp' not in old
    target = models(tokenizer_dir)['prompter']
    missing, unexpected = load_state_dict_checked(target, old)
    assert (missing, unexpected) == ([], [])
    assert float(target.vtc_head.temp) == pytest.approx(0.123)
    path = tmp_path / 'old.pth'
    torch.save(dict(state_dict=old), path)
    target = models(tokenizer_dir)['prompter']
    load_checkpoint(target, str(path), strict=True)
    assert float(target.vtc_head.temp) == pytest.approx(0.123)
