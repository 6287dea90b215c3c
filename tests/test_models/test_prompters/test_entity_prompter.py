"""EntityPrompter: stage-1 weights, the entity prompt cache, pseudo-labels."""
import copy
import math
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.runner import load_checkpoint

from alpro.engine.optimizers import DecayGroupsOptimWrapperConstructor
from alpro.models.prompters import AlproVideoTemplates, EntityPrompter
from alpro.models.prompters.frozen_weights import weights_fingerprint
from alpro.registry import MODELS
from tests.test_models.test_prompters.tiny_entity_prompter import (
    EMBED_DIM, ENTITIES, build_entity_prompter, prompter_cfg,
    save_stage1_checkpoint, write_entities)
from tests.tiny_components import tiny_text_encoder


@pytest.fixture
def entity_file(tmp_path):
    return write_entities(tmp_path / 'entities.txt')


@pytest.fixture
def stage1(tmp_path, tokenizer_dir):
    """``(path, state_dict)`` of a saved tiny stage-1 prompter."""
    path = tmp_path / 'work_dirs' / 'epoch_10.pth'
    path.parent.mkdir()
    return path, save_stage1_checkpoint(path, tokenizer_dir)


def assert_weights_equal(prompter: EntityPrompter, state: dict) -> None:
    own = prompter.prompter.state_dict()
    assert set(own) == set(state)
    for name, value in own.items():
        assert torch.equal(value, state[name]), name


def test_checkpoint_loads_in_init_weights_and_survives(tokenizer_dir,
                                                       entity_file, stage1):
    path, state = stage1
    torch.manual_seed(0)
    prompter = build_entity_prompter(tokenizer_dir, entity_file, path)
    assert isinstance(prompter, EntityPrompter)
    # nothing is loaded at construction
    assert not torch.equal(prompter.prompter.vision_proj.weight,
                           state['vision_proj.weight'])
    # the data preprocessor of the stage-1 config is not built
    assert not hasattr(prompter.prompter.data_preprocessor, 'tokenizer')

    class Algorithm(BaseModule):  # as the Runner sees the stage-2 model

        def __init__(self):
            super().__init__()
            self.prompter = prompter

    algorithm = Algorithm()
    algorithm.init_weights()
    assert_weights_equal(prompter, state)
    for _ in range(2):
        prompter.init_weights()
        assert_weights_equal(prompter, state)
    assert all(m.is_init for m in prompter.prompter.modules()
               if hasattr(m, 'init_weights'))


def test_prompter_is_frozen_and_stays_in_eval(tokenizer_dir, entity_file,
                                              stage1):
    prompter = build_entity_prompter(tokenizer_dir, entity_file, stage1[0])
    prompter.init_weights()
    assert not any(p.requires_grad for p in prompter.parameters())
    prompter.train()
    assert prompter.training
    assert not any(m.training for m in prompter.prompter.modules())
    # the tiny prompter has dropout 0.5 and drop-path 0.1: only eval mode
    # gives the same output twice
    ids = torch.tensor([[2, 5, 9, 3]])
    mask = torch.ones_like(ids)
    first = prompter.prompter.encode_text(ids, mask)[1]
    torch.testing.assert_close(
        prompter.prompter.encode_text(ids, mask)[1], first, rtol=0, atol=0)
    video = torch.randn(2, 3, 2, 32, 32)
    torch.testing.assert_close(
        prompter.prompter.encode_video(video)[1],
        prompter.prompter.encode_video(video)[1],
        rtol=0,
        atol=0)


def test_checkpoint_lacking_keys_is_refused_by_name(tmp_path, tokenizer_dir,
                                                    entity_file, stage1):
    path, state = stage1
    state = dict(state)
    del state['text_proj.weight']
    del state['vtc_head.temp']
    broken = tmp_path / 'broken.pth'
    torch.save({'state_dict': state, 'meta': {}}, broken)
    prompter = build_entity_prompter(tokenizer_dir, entity_file, broken)
    with pytest.raises(KeyError) as error:
        prompter.init_weights()
    message = str(error.value)
    assert 'text_proj.weight' in message and 'vtc_head.temp' in message
    assert str(broken.name) in message


def test_missing_checkpoint_says_how_to_get_it(tmp_path, tokenizer_dir,
                                               entity_file):
    missing = tmp_path / 'work_dirs' / 'pretrain_prompter' / 'epoch_60.pth'
    prompter = build_entity_prompter(tokenizer_dir, entity_file, missing)
    with pytest.raises(FileNotFoundError) as error:
        prompter.init_weights()
    message = str(error.value)
    assert str(missing) in message
    assert 'train the prompter first' in message
    assert 'configs/demo/pretrain_prompter.py' in message


def test_missing_entity_file_is_named(tmp_path, tokenizer_dir):
    missing = tmp_path / 'data' / 'entities.txt'
    prompter = build_entity_prompter(tokenizer_dir, missing)
    # read when first needed (the cache), not when the model is built
    with pytest.raises(FileNotFoundError) as error:
        prompter.build_cache()
    assert str(missing) in str(error.value)
    assert 'build_entity_vocab' in str(error.value)


def test_entity_file_shorter_than_num_entities(tokenizer_dir, entity_file):
    """``num_entities`` sizes the PEM head when the model is built; the
    file, read later, must list that many."""
    prompter = build_entity_prompter(
        tokenizer_dir, entity_file, num_entities=len(ENTITIES) + 2)
    assert prompter.num_classes == len(ENTITIES) + 2
    with pytest.raises(ValueError) as error:
        prompter.build_cache()
    assert f'lists {len(ENTITIES)} entities' in str(error.value)
    assert f'set num_entities={len(ENTITIES)}' in str(error.value)
    fewer = build_entity_prompter(
        tokenizer_dir, entity_file, num_entities=len(ENTITIES) - 1)
    assert fewer.entity_names == list(ENTITIES[:-1])


def test_bad_arguments(tokenizer_dir, entity_file):
    with pytest.raises(ValueError, match='threshold'):
        build_entity_prompter(tokenizer_dir, entity_file, threshold=1.5)
    with pytest.raises(ValueError, match='temperature'):
        build_entity_prompter(tokenizer_dir, entity_file, temperature=0.0)


def test_pseudo_labels_before_the_cache_is_built(tokenizer_dir, entity_file):
    prompter = build_entity_prompter(tokenizer_dir, entity_file)
    with pytest.raises(RuntimeError, match=r'build_cache\(\) first'):
        prompter.pseudo_labels(torch.zeros(1, 3, 2, 32, 32))


def test_cache_is_built_once_and_rebuilt_on_change(tmp_path, tokenizer_dir,
                                                   entity_file, stage1):
    prompter = build_entity_prompter(tokenizer_dir, entity_file, stage1[0])
    prompter.init_weights()
    num_prompts = len(ENTITIES) * len(AlproVideoTemplates())
    with mock.patch.object(
            prompter.prompter, 'encode_text',
            wraps=prompter.prompter.encode_text) as encode_text:
        assert prompter.build_cache() is True
        # 72 video + 72 image prompts, 5 per call
        assert encode_text.call_count == 2 * math.ceil(num_prompts / 5)
        key = prompter.cache_key
        assert key == prompter.compute_cache_key()
        for _ in range(2):
            assert prompter.build_cache() is False
        assert encode_text.call_count == 2 * math.ceil(num_prompts / 5)
        assert prompter.num_cache_builds == 1
        assert prompter.cache_key == key

        # a new entity file rebuilds
        other = write_entities(tmp_path / 'other.txt', ENTITIES[::-1])
        prompter.set_entities(str(other))
        assert prompter.build_cache() is True
        assert prompter.cache_key not in (None, key)
        assert prompter.entity_names == list(ENTITIES[::-1])
        key = prompter.cache_key

        # other templates rebuild; one set shared by videos and images is
        # encoded once
        calls = encode_text.call_count
        prompter.set_templates(['{}', 'a {} on the background'],
                               ['{}', 'a {} on the background'])
        assert prompter.build_cache() is True
        assert encode_text.call_count == calls + math.ceil(2 * 6 / 5)
        assert prompter.cache_key != key
        key = prompter.cache_key

        # weights replaced after init_weights (e.g. by load_from) rebuild
        with torch.no_grad():
            prompter.prompter.text_proj.bias.add_(0.1)
        assert prompter.build_cache() is True
        assert prompter.cache_key != key
        assert prompter.num_cache_builds == 4

    # a fresh prompter from the same files has the same key
    again = build_entity_prompter(tokenizer_dir, entity_file, stage1[0])
    again.init_weights()
    again.build_cache()
    assert again.cache_key != prompter.cache_key
    fresh = build_entity_prompter(tokenizer_dir, entity_file, stage1[0])
    fresh.init_weights()
    assert fresh.compute_cache_key() == again.cache_key


def test_cached_embeddings_are_template_means(tokenizer_dir, entity_file,
                                              stage1):
    prompter = build_entity_prompter(tokenizer_dir, entity_file, stage1[0])
    prompter.init_weights()
    prompter.build_cache()
    video, image = prompter.video_entity_embeds, prompter.image_entity_embeds
    assert video.shape == image.shape == (len(ENTITIES), EMBED_DIM)
    assert video.dtype == torch.float32
    torch.testing.assert_close(video.norm(dim=-1), torch.ones(len(ENTITIES)))
    # not saved in checkpoints
    assert not any('entity_embeds' in k for k in prompter.state_dict())

    # entity 2 by hand, one prompt at a time
    templates = prompter.video_templates.templates
    rows = []
    for template in templates:
        encoded = prompter.tokenizer([template.format(ENTITIES[2])],
                                     return_tensors='pt')
        rows.append(
            prompter.prompter.encode_text(encoded['input_ids'],
                                          encoded['attention_mask'])[1])
    expected = F.normalize(torch.cat(rows).mean(0), dim=-1)
    torch.testing.assert_close(video[2], expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(video, image)


def test_plain_template_mean_as_the_release(tokenizer_dir, entity_file):
    """renormalize_entities=False: the mean of the unit template
    embeddings, not re-normalised (norm under 1), under its own cache key."""
    # a random BERT this wide embeds every prompt alike unless its init is
    # wide too
    spread = dict(
        prompter_cfg(tokenizer_dir),
        text_encoder=tiny_text_encoder(
            num_layers=2, text_only=True, initializer_range=1.0))
    prompters = []
    for renormalize in (True, False):
        torch.manual_seed(0)  # the same random prompter twice
        prompter = build_entity_prompter(
            tokenizer_dir,
            entity_file,
            prompter=spread,
            renormalize_entities=renormalize)
        prompter.init_weights()
        prompter.build_cache()
        prompters.append(prompter)
    ours, plain = prompters
    norms = plain.video_entity_embeds.norm(dim=-1, keepdim=True)
    assert (norms < 0.999).all()
    torch.testing.assert_close(plain.video_entity_embeds / norms,
                               ours.video_entity_embeds)
    assert plain.cache_key != ours.cache_key


def softmax(logits):
    exps = [math.exp(x) for x in logits]
    return [e / sum(exps) for e in exps]


def test_pseudo_labels_against_a_hand_computed_case(tokenizer_dir,
                                                    entity_file):
    prompter = build_entity_prompter(
        tokenizer_dir, entity_file, temperature=0.5, threshold=0.2)
    basis = torch.eye(EMBED_DIM)
    # video entity j is the axis j, image entity j the axis j + 6
    prompter.video_entity_embeds = basis[:6].clone()
    prompter.image_entity_embeds = basis[6:12].clone()
    crops = torch.stack([
        basis[0],  # a video of entity 0
        F.normalize(basis[12:16].sum(0), dim=0),  # like no entity
        basis[7],  # an image of image entity 1
        basis[7],  # the same, as a video: like no video entity
        0.6 * basis[0] + 0.8 * basis[1],  # a video between 0 and 1
    ])
    is_image = torch.tensor([False, False, True, False, False])
    with mock.patch.object(
            prompter.prompter, 'encode_video',
            return_value=(None, crops)) as encode:
        probs, keep = prompter.pseudo_labels(
            torch.zeros(5, 3, 2, 32, 32), is_image)
    encode.assert_called_once()

    # cosine / 0.5, softmax over the 6 entities of each sample's own set
    expected = torch.tensor([
        softmax([2.0, 0, 0, 0, 0, 0]),
        softmax([0.0] * 6),
        softmax([0, 2.0, 0, 0, 0, 0]),
        softmax([0.0] * 6),
        softmax([1.2, 1.6, 0, 0, 0, 0]),
    ])
    assert probs.dtype == torch.float32 and keep.dtype == torch.bool
    torch.testing.assert_close(probs, expected)
    # 0.596 and 0.365 are kept, the uniform 1/6 = 0.167 are dropped
    assert expected[4].max() > 0.2 > expected[1].max()
    assert keep.tolist() == [True, False, True, False, True]

    # no is_image: every sample scored against the video set
    with mock.patch.object(
            prompter.prompter, 'encode_video', return_value=(None, crops)):
        probs, keep = prompter.pseudo_labels(torch.zeros(5, 3, 2, 32, 32))
    torch.testing.assert_close(probs[2], torch.full((6, ), 1 / 6))
    assert keep.tolist() == [True, False, False, False, True]

    assert prompter.topk(expected, k=2)[4] == ['square', 'circle']
    assert prompter.topk(expected[:1], k=99)[0][0] == 'circle'


def test_learned_temperature_is_the_prompters_clamped(tokenizer_dir,
                                                      entity_file):
    prompter = build_entity_prompter(tokenizer_dir, entity_file)
    prompter.video_entity_embeds = torch.eye(EMBED_DIM)[:6]
    prompter.image_entity_embeds = torch.eye(EMBED_DIM)[6:12]
    with torch.no_grad():
        # above VTCHead's upper bound 0.5: used as 0.5
        prompter.prompter.vtc_head.temp.fill_(0.9)
    crops = torch.eye(EMBED_DIM)[:1]
    with mock.patch.object(
            prompter.prompter, 'encode_video', return_value=(None, crops)):
        probs, _ = prompter.pseudo_labels(torch.zeros(1, 3, 2, 32, 32))
    torch.testing.assert_close(probs[0],
                               torch.tensor(softmax([2.0, 0, 0, 0, 0, 0])))
    # the frozen parameter itself is left alone
    assert float(prompter.prompter.vtc_head.temp) == pytest.approx(0.9)


def test_pseudo_labels_of_real_crops(tokenizer_dir, entity_file, stage1):
    prompter = build_entity_prompter(tokenizer_dir, entity_file, stage1[0])
    prompter.init_weights()
    prompter.build_cache()
    probs, keep = prompter.pseudo_labels(
        torch.randn(3, 3, 2, 32, 32), torch.tensor([True, False, True]))
    assert probs.shape == (3, len(ENTITIES)) and keep.shape == (3, )
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    assert not probs.requires_grad
    with pytest.raises(ValueError, match='is_image'):
        prompter.pseudo_labels(
            torch.randn(3, 3, 2, 32, 32), torch.tensor([True]))


# ------------------------------------------------- weights_dtype='bfloat16'
@pytest.fixture
def distinct_stage1(tmp_path, tokenizer_dir):
    """``(path, state_dict)`` of a tiny stage-1 prompter whose entities are
    told apart: a random tiny BERT gives every prompt nearly the same [CLS]
    (entity cosines above 0.9999, so bf16 rounding alone would reorder the
    entities); larger word embeddings and value / output projections mix
    the entity token into [CLS] (cosines 0.92-0.99, top-2 probability
    margins of 0.007 and more on the crops below)."""
    torch.manual_seed(3)
    model = MODELS.build(prompter_cfg(tokenizer_dir))
    model.init_weights()
    bert = model.text_encoder.bert
    with torch.no_grad():
        bert.embeddings.word_embeddings.weight.mul_(50)
        for layer in bert.encoder.layer:
            layer.attention.self.value.weight.mul_(10)
            layer.attention.output.dense.weight.mul_(10)
    path = tmp_path / 'distinct_epoch_10.pth'
    state = model.state_dict()
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path, state


def assert_stored_in_bf16(prompter: EntityPrompter) -> None:
    """Every floating tensor of the prompter in bf16 but the VTC
    temperature (float32: it only scales the float32 scores); none
    trainable."""
    for name, value in prompter.prompter.state_dict().items():
        if value.is_floating_point():
            expected = (
                torch.float32 if name == 'vtc_head.temp' else torch.bfloat16)
            assert value.dtype == expected, name
    assert not any(p.requires_grad for p in prompter.parameters())
    assert prompter.compute_dtype() == torch.bfloat16


def test_bf16_weights_are_stored_frozen_and_kept(tokenizer_dir, entity_file,
                                                 stage1):
    path, state = stage1
    prompter = build_entity_prompter(
        tokenizer_dir, entity_file, path, weights_dtype='bfloat16')
    assert prompter.weights_dtype == torch.bfloat16
    # already at construction (Runner.val / test never call init_weights)
    assert_stored_in_bf16(prompter)

    class Algorithm(BaseModule):  # as the Runner sees the stage-2 model

        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(4, 2)
            self.prompter = prompter

    algorithm = Algorithm()
    algorithm.init_weights()
    assert_stored_in_bf16(prompter)
    own = prompter.prompter.state_dict()
    for name, value in state.items():
        if name != 'vtc_head.temp':
            assert torch.equal(own[name], value.to(own[name].dtype)), name
    assert torch.equal(own['vtc_head.temp'], state['vtc_head.temp'])

    algorithm.to('cpu')
    algorithm.train()
    assert_stored_in_bf16(prompter)
    assert not any(m.training for m in prompter.prompter.modules())
    assert prompter.current_temperature().dtype == torch.float32
    # the optimiser gets the trainable head only
    optim_wrapper = DecayGroupsOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-3)))(
            algorithm)
    params = [
        p for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    ]
    assert {id(p)
            for p in params} == {id(p)
                                 for p in algorithm.head.parameters()}

    # a random prompter (checkpoint=None) is initialised, then stored, too
    random = build_entity_prompter(
        tokenizer_dir, entity_file, weights_dtype=torch.bfloat16)
    random.init_weights()
    assert_stored_in_bf16(random)

    # float32 is the default; other dtypes are refused
    assert build_entity_prompter(tokenizer_dir,
                                 entity_file).compute_dtype() == torch.float32
    with pytest.raises(ValueError, match='weights_dtype'):
        build_entity_prompter(
            tokenizer_dir, entity_file, weights_dtype='float16')


def test_bf16_pseudo_labels_are_close_to_float32s(tokenizer_dir, entity_file,
                                                  distinct_stage1):
    path, _ = distinct_stage1
    full = build_entity_prompter(tokenizer_dir, entity_file, path)
    half = build_entity_prompter(
        tokenizer_dir, entity_file, path, weights_dtype='bfloat16')
    for prompter in (full, half):
        prompter.init_weights()
        prompter.build_cache()
    torch.manual_seed(0)
    crops = torch.randn(16, 3, 2, 32, 32)
    is_image = torch.arange(16) % 4 == 0
    full_probs, full_keep = full.pseudo_labels(crops, is_image)
    probs, keep = half.pseudo_labels(crops, is_image)

    assert probs.dtype == torch.float32 and keep.dtype == torch.bool
    torch.testing.assert_close(probs.sum(-1), torch.ones(16))
    # bf16 keeps 8 significant bits (relative rounding <= 2^-9 per tensor):
    # the unit embeddings move by ~3e-3 here, so the similarities by <~1e-2
    # and, divided by the temperature 0.07, the logits by <~0.1; the
    # probabilities (0.12-0.26) then move by a few 1e-3 (measured: at most
    # 3e-3 here, 6.5e-3 over 6 random prompters). 0.02 leaves room for
    # other CPUs' bf16 kernels and is still well under the signal: the
    # probabilities of a row span ~0.1.
    diff = (probs - full_probs).abs().max()
    assert diff < 0.02
    assert diff > 0, 'the bf16 prompter computed in float32'
    same_top = probs.argmax(-1) == full_probs.argmax(-1)
    assert same_top.sum() >= 14
    assert (keep == full_keep).sum() >= 14
    assert len(half.topk(probs, k=2)[0]) == 2
    # under an outer autocast (the optim wrapper's), the bf16 prompter gets
    # bf16 crops and runs with autocast off
    seen = []
    hook = half.prompter.backbone.register_forward_pre_hook(
        lambda module, args: seen.append(
            (args[0].dtype, torch.is_autocast_enabled('cpu'))))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        torch.testing.assert_close(
            half.pseudo_labels(crops, is_image)[0], probs, rtol=0, atol=0)
    hook.remove()
    assert seen == [(torch.bfloat16, False)]

    # the crops went through the bf16 weights, the scores are float32
    video = half.prompter.encode_video(crops.bfloat16())[1].float()
    sim = torch.where(is_image[:, None], video @ half.image_entity_embeds.t(),
                      video @ half.video_entity_embeds.t())
    torch.testing.assert_close(
        probs, torch.softmax(sim / half.current_temperature(), -1))

    # the cache is in the crops' precision: entity 2 by hand, in bf16,
    # matches it; in float32 on the same (bf16-rounded) weights, it does not
    rounded = copy.deepcopy(half.prompter).float()
    by_hand = {}
    for name, model in (('bf16', half.prompter), ('float32', rounded)):
        rows = []
        for template in half.video_templates.templates:
            encoded = half.tokenizer([template.format(ENTITIES[2])],
                                     return_tensors='pt')
            rows.append(
                model.encode_text(encoded['input_ids'],
                                  encoded['attention_mask'])[1].float())
        by_hand[name] = F.normalize(torch.cat(rows).mean(0), dim=-1)
    cached = half.video_entity_embeds[2]
    assert cached.dtype == torch.float32
    torch.testing.assert_close(cached, by_hand['bf16'], rtol=0, atol=5e-4)
    assert (cached - by_hand['float32']).abs().max() > 1e-3


def test_state_dicts_load_across_dtypes(tmp_path, tokenizer_dir, entity_file,
                                        distinct_stage1):
    path, _ = distinct_stage1
    full = build_entity_prompter(tokenizer_dir, entity_file, path)
    full.init_weights()
    half = build_entity_prompter(
        tokenizer_dir, entity_file, weights_dtype='bfloat16')
    # a float32 stage-2 checkpoint into bf16 parameters: rounded
    half.load_state_dict(full.state_dict())
    assert_stored_in_bf16(half)
    for name, value in half.prompter.state_dict().items():
        assert torch.equal(value,
                           full.prompter.state_dict()[name].to(value.dtype))
    # a bf16 one into float32 parameters, as MMEngine's load_from does it
    checkpoint = tmp_path / 'stage2_bf16.pth'
    torch.save({'state_dict': half.state_dict(), 'meta': {}}, checkpoint)
    again = build_entity_prompter(tokenizer_dir, entity_file)
    load_checkpoint(again, str(checkpoint), map_location='cpu', strict=True)
    for name, value in again.prompter.state_dict().items():
        if value.is_floating_point():
            assert value.dtype == torch.float32, name
        assert torch.equal(
            value.to(half.prompter.state_dict()[name].dtype),
            half.prompter.state_dict()[name])
    assert not any(p.requires_grad for p in again.parameters())


def test_cache_is_rebuilt_when_the_dtype_changes(tokenizer_dir, entity_file,
                                                 distinct_stage1):
    _, state = distinct_stage1
    # weights exactly representable in bf16: their fingerprint is the same
    # in both dtypes, only the precision tells the caches apart
    rounded = {
        k: v.bfloat16().float() if v.is_floating_point() else v
        for k, v in state.items()
    }
    prompter = build_entity_prompter(tokenizer_dir, entity_file)
    prompter.prompter.load_state_dict(rounded)
    assert prompter.build_cache() is True
    full_cache = prompter.video_entity_embeds.clone()
    fingerprint = weights_fingerprint(prompter.prompter)

    prompter.to(torch.bfloat16)  # the whole module, cache buffers too
    assert prompter.compute_dtype() == torch.bfloat16
    assert weights_fingerprint(prompter.prompter) == fingerprint
    assert prompter.compute_cache_key() != prompter.cache_key
    assert prompter.build_cache() is True
    reference = build_entity_prompter(
        tokenizer_dir, entity_file, weights_dtype='bfloat16')
    reference.prompter.load_state_dict(rounded)
    reference.build_cache()
    assert prompter.video_entity_embeds.dtype == torch.float32
    torch.testing.assert_close(
        prompter.video_entity_embeds,
        reference.video_entity_embeds,
        rtol=0,
        atol=0)
    assert not torch.allclose(prompter.video_entity_embeds, full_cache)
    assert prompter.cache_key == reference.cache_key
    probs, _ = prompter.pseudo_labels(torch.randn(2, 3, 2, 32, 32))
    assert probs.dtype == torch.float32

    prompter.float()
    assert prompter.build_cache() is True
    torch.testing.assert_close(
        prompter.video_entity_embeds, full_cache, rtol=0, atol=0)
    assert prompter.build_cache() is False
    assert prompter.num_cache_builds == 3
