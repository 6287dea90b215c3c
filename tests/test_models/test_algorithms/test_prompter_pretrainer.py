"""PrompterPretrainer (ALPRO stage 1) at toy size."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from alpro.engine.optimizers import DecayGroupsOptimWrapperConstructor
from alpro.models.heads import VTCHead
from alpro.registry import HEADS, MODELS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor, tiny_text_encoder)

ORDER_STEPS = 120

BACKBONES = {
    'TimeSformer':
    TINY_TIMESFORMER,
    'FrameViT':
    dict(
        type='FrameViT',
        model_name='vit_tiny_patch16_224',
        img_size=32,
        patch_size=8,
        num_frames=2,
        embed_dim=32,
        depth=2,
        num_heads=2),
}


def build(tokenizer_dir,
          backbone='TimeSformer',
          order_negatives=None,
          vtc_head=dict(type='VTCHead'),
          **kwargs):
    return MODELS.build(
        dict(
            type='PrompterPretrainer',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=BACKBONES[backbone],
            # a random tiny BERT gives nearly the same [CLS] for every
            # caption; without dropout noise a dozen steps are enough to
            # pull them apart
            text_encoder=tiny_text_encoder(
                num_layers=2, text_only=True, **kwargs),
            embed_dim=16,
            vtc_head=vtc_head,
            order_negatives=order_negatives))


CAPTIONS = ('red circle', 'blue square', 'green circle moves left',
            'the square moves up')


def batch(size=4):
    return tiny_batch(CAPTIONS, size)


@pytest.mark.parametrize('backbone', list(BACKBONES))
def test_a_few_steps_reduce_the_loss(tokenizer_dir, backbone):
    torch.manual_seed(0)
    model = build(tokenizer_dir, backbone)
    model.init_weights()
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    data = batch()
    losses = []
    for _ in range(24):
        log_vars = model.train_step(data, wrapper)
        losses.append(float(log_vars['loss_vtc'].detach()))
    assert losses[-1] < 0.6 * losses[0], losses
    assert 0.001 <= float(log_vars['temperature']) <= 0.5


def test_predict_and_tensor_modes(tokenizer_dir):
    model = build(tokenizer_dir).eval()
    data = model.data_preprocessor(batch(3))
    video, text = model(**data, mode='tensor')
    assert video.shape == text.shape == (3, 16)
    torch.testing.assert_close(video.norm(dim=-1), torch.ones(3))
    samples = model(**data, mode='predict')
    assert samples[1].video_embed.shape == (16, )
    torch.testing.assert_close(samples[1].text_embed, text[1])
    with pytest.raises(ValueError, match='mode'):
        model(**data, mode='nope')


def test_tokenizer_larger_than_the_vocabulary_is_refused(tokenizer_dir):
    model = build(tokenizer_dir, vocab_size=8)
    # refused when the tokenizer is read, at the first batch
    with pytest.raises(ValueError, match='raise vocab_size'):
        model.data_preprocessor.tokenize(['a caption'])


def test_order_negatives_teach_the_direction_of_time(tokenizer_dir):
    """With reversed clips and direction-swapped captions as VTC negatives,
    a few steps on a fixed batch make every caption prefer its clip played
    forward and every clip prefer its caption to the swapped one. The time
    embedding learns at 30 times the base rate, as in the stage-2 test."""
    torch.manual_seed(0)
    model = build(
        tokenizer_dir,
        order_negatives=dict(swap_words=[('left', 'right'), ('up', 'down')]))
    model.init_weights()
    wrapper = DecayGroupsOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01)),
        dict(custom_keys={'time_embed': dict(lr_mult=30.)}))(
            model)
    data = batch()
    inputs = model.data_preprocessor(data, True)['inputs']
    for _ in range(ORDER_STEPS):
        model.train_step(data, wrapper)
    model.eval()
    with torch.no_grad():
        _, text = model.encode_text(inputs['text_ids'], inputs['text_mask'])
        _, forward = model.encode_video(inputs['video'])
        _, backward = model.encode_video(inputs['video'].flip(2))
        swapped_ids, has_direction = model.order_negatives.swap(
            inputs['text_ids'])
        _, swapped = model.encode_text(swapped_ids, inputs['text_mask'])
    assert ((text * forward).sum(-1) > (text * backward).sum(-1)).all()
    assert has_direction.tolist() == [False, False, True, True]
    own, other = (forward * text).sum(-1), (forward * swapped).sum(-1)
    assert (own[has_direction] > other[has_direction]).all()


def test_order_negatives_add_one_logit_per_negative(tokenizer_dir):
    """The loss with order negatives is VTC over the batch plus the
    negatives: equal to the plain loss when every extra logit is masked."""
    torch.manual_seed(0)
    model = build(
        tokenizer_dir,
        order_negatives=dict(words=['left'],
                             swap_words=[('left', 'right')])).eval()
    inputs = model.data_preprocessor(batch(2), True)['inputs']
    # 'red circle', 'blue square': no direction word, nothing added
    with torch.no_grad():
        loss = model.loss(inputs)['loss_vtc']
        model.order_negatives = None
        plain = model.loss(inputs)['loss_vtc']
    torch.testing.assert_close(loss, plain)


class VideoToTextOnlyVTCHead(VTCHead):
    """A VTC head with its own loss: the video-to-text direction only."""

    def loss(self, sim_v2t, sim_t2v):
        target = self.positive_index(sim_v2t.size(0), sim_v2t.device)
        return dict(loss_vtc=F.cross_entropy(sim_v2t, target))


def test_the_vtc_head_is_swapped_by_config(tokenizer_dir):
    """The algorithm takes its loss from the head the config names
    (registered for this test only: the registry contract test covers the
    heads alpro and its plugins ship)."""
    torch.manual_seed(0)
    HEADS.register_module(module=VideoToTextOnlyVTCHead, force=True)
    try:
        model = build(
            tokenizer_dir, vtc_head=dict(type='VideoToTextOnlyVTCHead'))
    finally:
        HEADS.module_dict.pop('VideoToTextOnlyVTCHead')
    assert isinstance(model.vtc_head, VideoToTextOnlyVTCHead)
    inputs = model.data_preprocessor(batch(), True)['inputs']
    out = model.loss(inputs)
    _, video = model.encode_video(inputs['video'])
    _, text = model.encode_text(inputs['text_ids'], inputs['text_mask'])
    sim_v2t, _ = model.vtc_head(video, text)
    expected = F.cross_entropy(sim_v2t, torch.arange(sim_v2t.size(0)))
    torch.testing.assert_close(out['loss_vtc'], expected)
