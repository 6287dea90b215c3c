"""EntityPrompter: stage-1 weights, the entity prompt cache, pseudo-labels."""
import math
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from tiny_entity_prompter import (EMBED_DIM, ENTITIES, build_entity_prompter,
                                  save_stage1_checkpoint, write_entities)

from alpro.models.prompters import AlproVideoTemplates, EntityPrompter


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
    first = prompter.prompter.encode_text(ids, mask)
    torch.testing.assert_close(
        prompter.prompter.encode_text(ids, mask), first, rtol=0, atol=0)
    video = torch.randn(2, 3, 2, 32, 32)
    torch.testing.assert_close(
        prompter.prompter.encode_video(video),
        prompter.prompter.encode_video(video),
        rtol=0,
        atol=0)


def test_checkpoint_lacking_keys_is_refused_by_name(tmp_path, tokenizer_dir,
                                                    entity_file, stage1):
    path, state = stage1
    state = dict(state)
    del state['text_proj.weight']
    del state['vtc_loss.temp']
    broken = tmp_path / 'broken.pth'
    torch.save({'state_dict': state, 'meta': {}}, broken)
    prompter = build_entity_prompter(tokenizer_dir, entity_file, broken)
    with pytest.raises(KeyError) as error:
        prompter.init_weights()
    message = str(error.value)
    assert 'text_proj.weight' in message and 'vtc_loss.temp' in message
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
    with pytest.raises(FileNotFoundError) as error:
        build_entity_prompter(tokenizer_dir, missing)
    assert str(missing) in str(error.value)
    assert 'build_entity_vocab' in str(error.value)


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
                                          encoded['attention_mask']))
    expected = F.normalize(torch.cat(rows).mean(0), dim=-1)
    torch.testing.assert_close(video[2], expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(video, image)


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
            prompter.prompter, 'encode_video', return_value=crops) as encode:
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
            prompter.prompter, 'encode_video', return_value=crops):
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
        # above VTCLoss's upper bound 0.5: used as 0.5
        prompter.prompter.vtc_loss.temp.fill_(0.9)
    crops = torch.eye(EMBED_DIM)[:1]
    with mock.patch.object(
            prompter.prompter, 'encode_video', return_value=crops):
        probs, _ = prompter.pseudo_labels(torch.zeros(1, 3, 2, 32, 32))
    torch.testing.assert_close(probs[0],
                               torch.tensor(softmax([2.0, 0, 0, 0, 0, 0])))
    # the frozen parameter itself is left alone
    assert float(prompter.prompter.vtc_loss.temp) == pytest.approx(0.9)


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
