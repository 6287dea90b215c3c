"""SoftCrossEntropyLoss: by hand, the keep mask, nothing kept, bf16."""
import math

import pytest
import torch

from alpro.models.losses import SoftCrossEntropyLoss
from alpro.registry import LOSSES


def hand_loss(logits, target, keep=None):
    """Per-sample soft cross-entropy with ``math``, averaged over kept."""
    logits, target = logits.tolist(), target.tolist()
    keep = [True] * len(logits) if keep is None else keep.tolist()
    losses = []
    for row, probs, kept in zip(logits, target, keep):
        if not kept:
            continue
        top = max(row)
        log_z = top + math.log(sum(math.exp(x - top) for x in row))
        losses.append(-sum(p * (x - log_z) for p, x in zip(probs, row)))
    return sum(losses) / len(losses)


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 9, generator=gen) * 3
    target = torch.randn(6, 9, generator=gen).softmax(-1)
    return logits, target


def test_against_hand_computation(batch):
    logits, target = batch
    loss = SoftCrossEntropyLoss()(logits, target)
    assert loss.shape == () and loss.dtype == torch.float32
    assert math.isclose(loss, hand_loss(logits, target), rel_tol=1e-5)
    # one-hot targets reduce it to the ordinary cross-entropy
    labels = torch.tensor([0, 3, 8, 1, 1, 2])
    one_hot = torch.nn.functional.one_hot(labels, 9).float()
    torch.testing.assert_close(
        SoftCrossEntropyLoss()(logits, one_hot),
        torch.nn.functional.cross_entropy(logits, labels))


def test_keep_mask_averages_over_kept_only(batch):
    logits, target = batch
    keep = torch.tensor([True, False, True, False, False, True])
    loss_fn = SoftCrossEntropyLoss()
    loss = loss_fn(logits, target, keep)
    assert math.isclose(loss, hand_loss(logits, target, keep), rel_tol=1e-5)
    # dropped samples contribute nothing, neither value nor gradient,
    # even when their logits are not finite
    logits = logits.clone()
    logits[1] = float('-inf')
    logits[3, 0] = float('nan')
    logits.requires_grad_(True)
    loss = loss_fn(logits, target, keep)
    assert math.isclose(
        loss.detach(), hand_loss(logits[keep], target[keep]), rel_tol=1e-5)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert not logits.grad[~keep].any() and logits.grad[keep].any()


def test_nothing_kept_is_zero_and_backward_works(batch):
    logits, target = batch
    logits.requires_grad_(True)
    loss = LOSSES.build(dict(type='SoftCrossEntropyLoss'))(
        logits, target, torch.zeros(6, dtype=torch.bool))
    assert loss == 0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_bf16_inputs_and_autocast(batch):
    logits, target = batch
    expected = SoftCrossEntropyLoss()(logits.bfloat16().float(),
                                      target.bfloat16().float())
    loss = SoftCrossEntropyLoss()(logits.bfloat16(), target.bfloat16())
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = SoftCrossEntropyLoss()(logits, target)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, SoftCrossEntropyLoss()(logits, target))


def test_weight_and_shape_errors(batch):
    logits, target = batch
    torch.testing.assert_close(
        SoftCrossEntropyLoss(loss_weight=2.0)(logits, target),
        2 * SoftCrossEntropyLoss()(logits, target))
    with pytest.raises(ValueError, match='must both be'):
        SoftCrossEntropyLoss()(logits, target[:, :4])
    with pytest.raises(ValueError, match='keep'):
        SoftCrossEntropyLoss()(logits, target, torch.ones(5, dtype=bool))
