"""PrompterPretrainer (ALPRO stage 1) at toy size."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from tiny_components import (TINY_TIMESFORMER, tiny_batch, tiny_preprocessor,
                             tiny_text_encoder)

from alpro.registry import MODELS

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


def build(tokenizer_dir, backbone='TimeSformer', **kwargs):
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
            embed_dim=16))


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
    with pytest.raises(ValueError, match='raise vocab_size'):
        build(tokenizer_dir, vocab_size=8)
