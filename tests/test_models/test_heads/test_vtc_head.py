"""VTCHead: the loss by hand, the temperature, and two ranks equal one."""
import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed import _functional_collectives as collectives

from alpro.models.heads import VTCHead
from alpro.registry import HEADS
from alpro.utils import distributed as gather_module
from tests.tool_runs import run_gloo_workers

WORLD_SIZE, LOCAL_BATCH, DIM = 2, 3, 8


def hand_loss(video, text, temp):
    """The symmetric InfoNCE with loops and ``math``, no torch ops."""
    video, text = video.tolist(), text.tolist()
    n = len(video)
    sim = [[
        sum(a * b for a, b in zip(video[i], text[j])) / temp for j in range(n)
    ] for i in range(n)]

    def cross_entropy(rows):
        # -log softmax(row)[i] of row i, averaged over rows; the max is
        # taken out of the exponentials, which overflow at temp 0.001
        total = 0.0
        for i, row in enumerate(rows):
            top = max(row)
            total += top + math.log(sum(math.exp(x - top)
                                        for x in row)) - row[i]
        return total / n

    sim_t = [[sim[j][i] for j in range(n)] for i in range(n)]
    return (cross_entropy(sim) + cross_entropy(sim_t)) / 2


def vtc_loss(head, video, text):
    """The head's VTC loss of matching (B, D) features."""
    return head.loss(*head(video, text))['loss_vtc']


def tiny_pairs():
    video = F.normalize(
        torch.tensor([[1.0, 0.0, 0.5], [0.2, 1.0, 0.0], [0.0, 0.3, 1.0]],
                     dtype=torch.float64),
        dim=-1)
    text = F.normalize(
        torch.tensor([[0.6, 0.5, 0.5], [0.5, 0.7, 0.3], [0.3, 0.4, 0.8]],
                     dtype=torch.float64),
        dim=-1)
    return video, text


def test_value_matches_hand_computation():
    video, text = tiny_pairs()
    head = VTCHead().double()
    # 0.07 as the float32 parameter holds it
    temp = head.temp.item()
    assert temp == pytest.approx(0.07)
    loss = vtc_loss(head, video, text)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(
        hand_loss(video, text, temp), rel=1e-12)
    assert loss.item() > 0.05  # confusable pairs: not a vanishing loss
    # symmetric: swapping the modalities swaps the two directions
    assert vtc_loss(head, text,
                    video).item() == pytest.approx(loss.item(), 1e-12)


def test_forward_gives_the_scaled_similarities():
    video, text = tiny_pairs()
    head = VTCHead(temperature=0.1).double()
    sim_v2t, sim_t2v = head(video, text)
    torch.testing.assert_close(sim_v2t, video @ text.t() / 0.1)
    torch.testing.assert_close(sim_t2v, text @ video.t() / 0.1)
    assert head.positive_index(3).tolist() == [0, 1, 2]


def test_similarity_is_float32_under_bf16_autocast():
    generator = torch.Generator().manual_seed(0)
    video = F.normalize(torch.randn(4, 16, generator=generator), dim=-1)
    text = F.normalize(torch.randn(4, 16, generator=generator), dim=-1)
    head = VTCHead()
    expected = head(video, text)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = head(video.bfloat16(), text.bfloat16())
    for sim, ref in zip(got, expected):
        assert sim.dtype == torch.float32
        # only the features' own bf16 rounding remains
        torch.testing.assert_close(sim, ref, rtol=0, atol=0.1)


@pytest.mark.parametrize('start, clamped', [(1.0, 0.5), (1e-5, 0.001)])
def test_temperature_is_clamped_in_value_and_parameter(start, clamped):
    video, text = tiny_pairs()
    head = VTCHead().double()
    with torch.no_grad():
        head.temp.fill_(start)
    loss = vtc_loss(head, video, text)
    assert head.temp.item() == pytest.approx(clamped)
    assert loss.item() == pytest.approx(
        hand_loss(video, text, clamped), rel=1e-10)


def test_gradient_reaches_temperature():
    video, text = tiny_pairs()
    head = VTCHead(temperature=0.2).double()
    vtc_loss(head, video, text).backward()
    grad = head.temp.grad
    assert grad is not None and grad.item() != 0
    h = 1e-6
    numeric = (hand_loss(video, text, 0.2 + h) -
               hand_loss(video, text, 0.2 - h)) / (2 * h)
    assert grad.item() == pytest.approx(numeric, rel=1e-6)
    # at a bound the gradient keeps flowing (the clamp is in place)
    head.zero_grad()
    with torch.no_grad():
        head.temp.fill_(2.0)
    vtc_loss(head, video, text).backward()
    assert head.temp.grad.item() != 0


def test_two_forwards_before_backward():
    # the in-place clamp of the second call must not break the first graph
    video, text = tiny_pairs()
    video.requires_grad_()
    head = VTCHead().double()
    (vtc_loss(head, video, text) + vtc_loss(head, text, video)).backward()
    assert video.grad is not None


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match='min_temperature'):
        VTCHead(min_temperature=0.5, max_temperature=0.1)
    with pytest.raises(ValueError, match=r'\(B, D\)'):
        VTCHead()(torch.zeros(3, 4), torch.zeros(2, 4))


def test_builds_from_the_registry():
    head = HEADS.build(dict(type='VTCHead', temperature=0.05))
    assert isinstance(head, VTCHead)
    assert head.temp.item() == pytest.approx(0.05)


# ---------------------------------------------------------------------------
# Two gloo processes against one process on the concatenated batch.


def global_batch():
    """Fixed random, non-symmetric raw features of the whole batch."""
    generator = torch.Generator().manual_seed(0)
    shape = (WORLD_SIZE * LOCAL_BATCH, DIM)
    video = torch.randn(shape, generator=generator, dtype=torch.float64)
    text = torch.randn(shape, generator=generator, dtype=torch.float64)
    return video, text


def loss_and_grads(head, video, text):
    """Normalise leaf copies, backward; the loss and the leaves' grads."""
    video = video.clone().requires_grad_()
    text = text.clone().requires_grad_()
    loss = vtc_loss(head, F.normalize(video, dim=-1),
                    F.normalize(text, dim=-1))
    loss.backward()
    return dict(
        loss=loss.detach(),
        video_grad=video.grad,
        text_grad=text.grad,
        temp_grad=head.temp.grad.clone())


def older_gathers() -> list:
    """``(name, gather)`` of the other autograd all-gathers this torch has
    (those older releases use): the ``_functional_collectives`` names
    ``VTCHead`` knows besides the default and, as ``None``,
    ``torch.distributed.nn``'s."""
    gathers = [(name, getattr(collectives, name))
               for name in gather_module.AUTOGRAD_GATHER_NAMES
               if hasattr(collectives, name)]
    return [(name, gather) for name, gather in gathers
            if gather is not gather_module._AUTOGRAD_ALL_GATHER
            ] + [('dist_nn', None)]


def worker(rank: int, out_dir: str) -> None:
    """One gloo rank (``run_gloo_workers``)."""
    video, text = global_batch()
    rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
    results = {}
    # the gather this torch uses, which must not warn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        results['default'] = loss_and_grads(VTCHead().double(), video[rows],
                                            text[rows])
    results['default']['warnings'] = [
        f'{w.category.__name__}: {w.message}' for w in caught
    ]
    # the other gathers of older torch (deprecated on this one, if here)
    default = gather_module._AUTOGRAD_ALL_GATHER
    for name, gather in older_gathers():
        gather_module._AUTOGRAD_ALL_GATHER = gather
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', FutureWarning)
                results[name] = loss_and_grads(VTCHead().double(), video[rows],
                                               text[rows])
        finally:
            gather_module._AUTOGRAD_ALL_GATHER = default
    # a mutant with every rank's positives at offset 0, where ALPRO's
    # local-rank offset puts them on two nodes of one rank each: the
    # checks must reject it
    mutant = VTCHead().double()
    mutant.positive_index = lambda b, device=None: torch.arange(
        b, device=device)
    results['local_offset'] = loss_and_grads(mutant, video[rows], text[rows])
    torch.save(results, Path(out_dir) / f'rank{rank}.pt')


def run_two_ranks(out_dir: Path) -> list:
    return run_gloo_workers(worker, out_dir, WORLD_SIZE)


def assert_matches_one_process(ranks: list, single: dict) -> None:
    """Mean loss, per-slice gradients / W and mean temp gradient agree."""
    close = dict(rtol=0, atol=1e-6)
    torch.testing.assert_close(
        sum(r['loss'] for r in ranks) / WORLD_SIZE, single['loss'], **close)
    torch.testing.assert_close(
        sum(r['temp_grad'] for r in ranks) / WORLD_SIZE, single['temp_grad'],
        **close)
    for rank, result in enumerate(ranks):
        rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        for key in ('video_grad', 'text_grad'):
            # DDP averages parameter gradients over ranks: divide by W
            torch.testing.assert_close(result[key] / WORLD_SIZE,
                                       single[key][rows], **close)


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(tmp_path):
    ranks = run_two_ranks(tmp_path)
    assert not dist.is_initialized()
    video, text = global_batch()
    single = loss_and_grads(VTCHead().double(), video, text)
    # the gradients are not trivially zero
    assert single['video_grad'].abs().max() > 1e-3
    assert single['temp_grad'].abs() > 1e-3

    # the default gather does not warn (the deprecated one would)
    assert [r['default']['warnings'] for r in ranks] == [[], []]
    for variant in ['default'] + [name for name, _ in older_gathers()]:
        per_rank = [r[variant] for r in ranks]
        assert_matches_one_process(per_rank, single)
        # each rank's own loss differs: the ranks really saw different rows
        assert not torch.allclose(per_rank[0]['loss'], per_rank[1]['loss'])
    with pytest.raises(AssertionError):
        assert_matches_one_process([r['local_offset'] for r in ranks], single)
