"""QAHead: shape, ALPRO's layers, initialisation, registry, its loss and
its predictions."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from alpro.models.heads import QAHead
from alpro.registry import HEADS
from alpro.structures import VideoTextDataSample


def test_shape_and_gradient():
    head = QAHead(in_dims=16, num_answers=7)
    head.init_weights()
    feat = torch.randn(5, 16, requires_grad=True)
    logits = head(feat)
    assert logits.shape == (5, 7)
    logits.sum().backward()
    assert feat.grad is not None and head.fc1.weight.grad is not None
    # BERT's initialisation: small weights, zero bias
    assert head.fc1.weight.std() < 0.05 and not head.fc2.bias.any()


def test_alpro_classifier_layers():
    # Linear(D, 2D) - ReLU - Linear(2D, A), as ALPRO's classifier
    head = QAHead(in_dims=8, num_answers=3)
    assert (head.fc1.in_features, head.fc1.out_features) == (8, 16)
    assert (head.fc2.in_features, head.fc2.out_features) == (16, 3)
    assert isinstance(head.act, nn.ReLU)
    feat = torch.randn(4, 8)
    expected = head.fc2(torch.relu(head.fc1(feat)))
    torch.testing.assert_close(head(feat), expected)


def test_registry_build_and_bad_size():
    head = HEADS.build(dict(type='QAHead', in_dims=8, num_answers=5))
    assert isinstance(head, QAHead)
    assert head(torch.randn(2, 8)).shape == (2, 5)
    with pytest.raises(ValueError, match='num_answers'):
        QAHead(in_dims=8, num_answers=0)


def samples(labels):
    out = []
    for label in labels:
        sample = VideoTextDataSample()
        if label is not None:
            sample.answer_label = label
        out.append(sample)
    return out


def test_loss_leaves_out_answers_outside_the_vocabulary():
    torch.manual_seed(0)
    head = QAHead(in_dims=8, num_answers=4)
    feat = torch.randn(4, 8)
    out = head.loss(feat, samples([0, -1, 3, 2]))
    logits = head(feat)
    kept = torch.tensor([0, 2, 3])
    expected = F.cross_entropy(logits[kept], torch.tensor([0, 3, 2]))
    torch.testing.assert_close(out['loss_qa'], expected)
    # no labelled sample: 0, not NaN
    assert head.loss(feat[:1], samples([-1]))['loss_qa'].item() == 0
    with pytest.raises(ValueError, match='answer_label 4 is outside'):
        head.loss(feat[:1], samples([4]))
    with pytest.raises(KeyError, match='answer_label'):
        head.loss(feat[:1], samples([None]))


def test_predict_puts_the_softmax_and_its_argmax_on_the_samples():
    torch.manual_seed(0)
    head = QAHead(in_dims=8, num_answers=4)
    feat = torch.randn(3, 8)
    out = head.predict(feat, samples([None, None, None]))
    scores = head(feat).softmax(-1)
    for sample, score in zip(out, scores):
        torch.testing.assert_close(sample.pred_score, score)
        assert int(sample.pred_label) == int(score.argmax())
