"""The example plugin's SigmoidVTCHead: a head with its own loss, swapped
in by one config line, trains a dual encoder (docs/adding_a_component.md)."""
import alpro_example_plugin  # noqa: F401  (registers SigmoidVTCHead)
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from alpro.registry import HEADS
from tests.test_models.test_algorithms.test_prompter_pretrainer import (batch,
                                                                        build)

STEPS = 80


def test_the_loss_is_the_pairwise_sigmoid():
    head = HEADS.build(dict(type='SigmoidVTCHead', temperature=0.1))
    assert type(head).__module__.startswith('alpro_example_plugin')
    video = F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=-1)
    text = F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=-1)
    head = head.double()
    sim_v2t, sim_t2v = head(video, text)
    loss = head.loss(sim_v2t, sim_t2v)['loss_vtc']
    cos = video @ text.t()
    expected = 0.0
    for i in range(3):
        for j in range(3):
            z = 1.0 if i == j else -1.0
            expected -= F.logsigmoid(
                torch.tensor(z * (float(cos[i, j]) / 0.1 - 10.0)))
    assert loss.item() == pytest.approx(float(expected) / 3, rel=1e-5)


def test_a_config_line_swaps_it_in_and_it_trains(tokenizer_dir):
    torch.manual_seed(0)
    # a wider BERT init than 0.02 (which makes every caption's [CLS]
    # alike at first), as the other dual-encoder tests
    model = build(
        tokenizer_dir,
        vtc_head=dict(type='SigmoidVTCHead'),
        initializer_range=0.1)
    model.init_weights()
    assert type(model.vtc_head).__name__ == 'SigmoidVTCHead'
    data = batch()
    inputs = model.data_preprocessor(data, True)['inputs']
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    losses = [
        float(model.train_step(data, wrapper)['loss_vtc'])
        for _ in range(STEPS)
    ]
    assert losses[-1] < 0.5 * losses[0], losses
    model.eval()
    with torch.no_grad():
        _, video = model.encode_video(inputs['video'])
        _, text = model.encode_text(inputs['text_ids'], inputs['text_mask'])
    similarity = text @ video.t()
    # every caption's own clip scores highest
    assert (similarity.argmax(1) == torch.arange(4)).all(), similarity
