"""The example plugin's PromptVideoClassifier, a downstream task in one
file: it starts as the zero-shot classifier of its class-name prompts and
learns from video-only batches (docs/adding_a_component.md)."""
import alpro_example_plugin  # noqa: F401  (registers the classifier)
import pytest
import torch
from mmengine.optim import OptimWrapper

from alpro.registry import MODELS
from alpro.structures import VideoTextDataSample
from tests.tiny_components import (TINY_TIMESFORMER, tiny_preprocessor,
                                   tiny_text_encoder)

CLASSES = ('left', 'right', 'up', 'down')
STEPS = 40


def build(tokenizer_dir):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='PromptVideoClassifier',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            text_encoder=tiny_text_encoder(
                num_layers=2, text_only=True, initializer_range=0.1),
            class_names=CLASSES,
            template='a circle moves {}',
            embed_dim=16))
    model.init_weights()
    return model


def batch(labels):
    generator = torch.Generator().manual_seed(0)
    samples = []
    for label in labels:
        sample = VideoTextDataSample()
        sample.label = label
        samples.append(sample)
    clips = [
        torch.randint(
            0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=generator)
        for _ in labels
    ]
    return dict(inputs=clips, data_samples=samples)


def test_it_starts_as_the_zero_shot_classifier(tokenizer_dir):
    model = build(tokenizer_dir).eval()
    data = model.data_preprocessor(batch([0, 1, 2, 3]), False)
    with torch.no_grad():
        logits = model(**data, mode='tensor')
        _, video = model.encode_video(data['inputs']['video'])
        prompts = model.data_preprocessor.tokenize(
            [f'a circle moves {name}' for name in CLASSES])
        _, text = model.encode_text(prompts['text_ids'], prompts['text_mask'])
    torch.testing.assert_close(logits, video @ text.t() / 0.05)
    with pytest.raises(ValueError, match='one {}'):
        MODELS.build(
            dict(
                type='PromptVideoClassifier',
                data_preprocessor=tiny_preprocessor(tokenizer_dir),
                backbone=TINY_TIMESFORMER,
                text_encoder=tiny_text_encoder(text_only=True),
                class_names=CLASSES,
                template='no slot',
                embed_dim=16))


def test_it_learns_from_video_only_batches(tokenizer_dir):
    model = build(tokenizer_dir)
    labels = [0, 1, 2, 3, 1, 0]
    data = batch(labels)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    for _ in range(STEPS):
        out = model.train_step(data, wrapper)
    assert out['cls_acc'].item() == 1.0, out
    predicted = model.val_step(data)
    assert [int(s.pred_label) for s in predicted] == labels
    assert all(s.pred_score.shape == (4, ) for s in predicted)
