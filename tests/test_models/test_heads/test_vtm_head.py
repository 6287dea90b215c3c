"""VTMHead: shape, initialisation, registry, its loss, its score and its
negative sampler."""
import pytest
import torch
import torch.nn.functional as F

from alpro.models.heads import VTMHead
from alpro.registry import HEADS


def test_shape_and_gradient():
    head = VTMHead(in_dims=16)
    head.init_weights()
    feat = torch.randn(5, 16, requires_grad=True)
    logits = head(feat)
    assert logits.shape == (5, 2)
    logits.sum().backward()
    assert feat.grad is not None and head.fc.weight.grad is not None
    # BERT's initialisation: small weights, zero bias
    assert head.fc.weight.std() < 0.05 and not head.fc.bias.any()


def test_registry_build():
    head = HEADS.build(dict(type='VTMHead', in_dims=8, num_classes=3))
    assert isinstance(head, VTMHead)
    assert head(torch.randn(2, 8)).shape == (2, 3)


def test_loss_labels_matched_1_and_leaves_out_invalid_negatives():
    torch.manual_seed(0)
    head = VTMHead(in_dims=8)
    pos, neg = torch.randn(3, 8), torch.randn(6, 8)
    valid = torch.tensor([True, True, False, True, True, True])
    out = head.loss(pos, neg, valid, [False, True])
    logits = head(torch.cat([pos, neg[valid]])).float()
    labels = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0])
    torch.testing.assert_close(out['loss_vtm'],
                               F.cross_entropy(logits, labels))
    expected_acc = (logits.argmax(-1) == labels).float().mean()
    torch.testing.assert_close(out['vtm_acc'], expected_acc)
    assert 'loss_vtm_rank' not in out  # rank_weight 0: ALPRO's loss only


def test_predict_scores_the_match_class():
    torch.manual_seed(0)
    head = VTMHead(in_dims=8)
    feat = torch.randn(4, 8)
    logits = head(feat)
    torch.testing.assert_close(
        head.predict(feat, 'vtm_prob'),
        logits.softmax(-1)[:, 1])
    torch.testing.assert_close(head.predict(feat, 'vtm_logit'), logits[:, 1])
    with pytest.raises(ValueError, match='score must be'):
        head.predict(feat, 'vtc')


def test_the_sampler_is_built_from_its_config():
    head = VTMHead(
        in_dims=8,
        negatives=dict(
            type='VTMNegativeSampler', policy='random', num_negatives=2))
    sim = torch.randn(4, 4)
    neg_text, neg_video, has_text, has_video = head.sample_negatives(
        sim, sim.t(), torch.eye(4, dtype=torch.bool), torch.tensor(0.07))
    assert neg_text.shape == neg_video.shape == (8, )
    assert has_text.all() and has_video.all()
    # a row's two draws are distinct negatives, never the positive
    rows = torch.arange(4).repeat(2)
    assert (neg_text != rows).all() and (neg_video != rows).all()
    assert (neg_text[:4] != neg_text[4:]).all()
