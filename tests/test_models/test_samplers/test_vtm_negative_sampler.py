"""VTMNegativeSampler: the policies, the random warm-up on the Runner's
iteration, the temperature and the exclusion of true matches."""
import pytest
import torch
from mmengine.logging import MessageHub

from alpro.models.samplers import VTMNegativeSampler
from alpro.models.samplers.vtm_negative_sampler import POLICIES

SIZE = 4
DRAWS = 400
TEMP = torch.tensor(0.05)


def logits():
    """``(B, B)`` VTC logits: row i's hardest negative is i + 1 by far."""
    cos = torch.zeros(SIZE, SIZE)
    cos[torch.arange(SIZE), (torch.arange(SIZE) + 1) % SIZE] = 0.5
    cos += torch.eye(SIZE)
    return cos / TEMP


def shares(sampler, true_match=None, sim=None):
    """How often each column is drawn as the negative text of each video,
    over DRAWS draws: ``(B, B)``."""
    sim = logits() if sim is None else sim
    if true_match is None:
        true_match = torch.eye(SIZE, dtype=torch.bool)
    counts = torch.zeros(SIZE, SIZE)
    for _ in range(DRAWS):
        neg_text, neg_video, has_text, has_video = sampler(
            sim, sim.t(), true_match, TEMP)
        counts[torch.arange(SIZE), neg_text] += 1
    return counts / DRAWS, has_text, has_video


@pytest.fixture
def iteration(request):
    """Set the iteration in a new current message hub, as a Runner does."""
    hub = MessageHub.get_instance(f'{request.node.name}-{id(request)}')
    return lambda value: hub.update_info('iter', value)


def test_hard_policy_prefers_the_hardest_negative():
    torch.manual_seed(0)
    share, _, _ = shares(VTMNegativeSampler())
    hardest = (torch.arange(SIZE) + 1) % SIZE
    # softmax over negatives: e^10 / (e^10 + 2) ~ 1
    assert (share[torch.arange(SIZE), hardest] > 0.99).all()
    assert (share.diagonal() == 0).all()


def test_random_policy_draws_every_negative_alike():
    torch.manual_seed(0)
    share, _, _ = shares(VTMNegativeSampler(policy='random'))
    off = ~torch.eye(SIZE, dtype=torch.bool)
    # 1/3 each; a share over 400 draws has a standard error of 0.024
    assert ((share[off] - 1 / 3).abs() < 0.1).all(), share
    assert (share.diagonal() == 0).all()


def test_a_higher_temperature_softens_the_hard_draw():
    torch.manual_seed(0)
    share, _, _ = shares(VTMNegativeSampler(temperature=0.5))
    hardest = (torch.arange(SIZE) + 1) % SIZE
    # cos 0.5 against 0 at temperature 0.5: e / (e + 2) = 0.576
    drawn = share[torch.arange(SIZE), hardest]
    assert ((drawn - 0.576).abs() < 0.1).all(), drawn


def test_random_warm_up_follows_the_runner_iteration(iteration):
    torch.manual_seed(0)
    sampler = VTMNegativeSampler(random_iters=10)
    hardest = (torch.arange(SIZE) + 1) % SIZE
    assert sampler.at_random  # before any iteration
    iteration(9)
    sampler.start_iteration()
    assert sampler.at_random
    share, _, _ = shares(sampler)
    assert (share[torch.arange(SIZE), hardest] < 0.5).all()
    iteration(10)
    sampler.start_iteration()
    assert not sampler.at_random
    share, _, _ = shares(sampler)
    assert (share[torch.arange(SIZE), hardest] > 0.99).all()


def test_true_matches_are_never_drawn():
    torch.manual_seed(0)
    true_match = torch.eye(SIZE, dtype=torch.bool)
    # videos 0 and 1 are one video; row 0's hardest negative is text 1
    true_match[0, 1] = true_match[1, 0] = True
    share, has_text, has_video = shares(VTMNegativeSampler(), true_match)
    assert share[0, 1] == 0 and share[1, 0] == 0
    assert has_text.all() and has_video.all()
    # ALPRO's rule keeps them
    share, _, _ = shares(
        VTMNegativeSampler(exclude_true_matches=False), true_match)
    assert share[0, 1] > 0.99


def test_a_row_without_negatives_is_flagged():
    torch.manual_seed(0)
    true_match = torch.ones(SIZE, SIZE, dtype=torch.bool)
    true_match[3, :3] = true_match[:3, 3] = False  # 0-2 one video
    sampler = VTMNegativeSampler()
    neg_text, neg_video, has_text, has_video = sampler(logits(),
                                                       logits().t(),
                                                       true_match, TEMP)
    assert has_text.tolist() == [True, True, True, True]
    # every row has video 3 or a video of the group as a negative
    assert (neg_text[:3] == 3).all() and neg_text[3] != 3
    true_match[3, :3] = true_match[:3, 3] = True  # all one video
    _, _, has_text, has_video = sampler(logits(),
                                        logits().t(), true_match, TEMP)
    assert not has_text.any() and not has_video.any()


@pytest.mark.parametrize('kwargs', [
    dict(policy='hardest'),
    dict(temperature=0.0),
    dict(random_iters=-1),
])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match='VTMNegativeSampler'):
        VTMNegativeSampler(**kwargs)


@pytest.mark.parametrize('policy', POLICIES)
def test_several_negatives_are_distinct_and_never_true_matches(policy):
    """K draws per row without replacement, draw-major; a row with fewer
    than K negatives marks the draws past its last one."""
    torch.manual_seed(0)
    size, draws = 6, 3
    true_match = torch.eye(size, dtype=torch.bool)
    true_match[0, 1:4] = True  # video 0: only texts 4 and 5 are negatives
    sim = torch.randn(size, size) / TEMP
    sampler = VTMNegativeSampler(policy=policy, num_negatives=draws)
    for _ in range(50):
        neg_text, neg_video, has_text, has_video = sampler(
            sim, sim.t(), true_match, TEMP)
        assert neg_text.shape == has_text.shape == (draws * size, )
        assert neg_video.shape == has_video.shape == (draws * size, )
        for rows, neg, has, excluded in ((range(size), neg_text, has_text,
                                          true_match), (range(size), neg_video,
                                                        has_video,
                                                        true_match.t())):
            picks = neg.view(draws, size).t()
            valid = has.view(draws, size).t()
            for row in rows:
                drawn = picks[row][valid[row]]
                assert drawn.unique().numel() == drawn.numel()
                assert not excluded[row, drawn].any()
                # every row has its K negatives but video 0, which has two
                expected = 2 if excluded is true_match and row == 0 else draws
                assert valid[row].sum() == expected, (row, valid[row])


def test_several_hard_negatives_take_the_hardest_first():
    """The first draw is the softmax sample; the hardest negative by far is
    almost always among a row's two draws, and never twice."""
    torch.manual_seed(0)
    sampler = VTMNegativeSampler(num_negatives=2)
    hardest = (torch.arange(SIZE) + 1) % SIZE
    for _ in range(20):
        neg_text, _, has_text, _ = sampler(logits(),
                                           logits().t(),
                                           torch.eye(SIZE, dtype=torch.bool),
                                           TEMP)
        picks = neg_text.view(2, SIZE)
        assert has_text.all()
        assert (picks[0] == hardest).all()
        assert (picks[1] != hardest).all()


def test_a_batch_smaller_than_k_draws_every_other_sample():
    sampler = VTMNegativeSampler(policy='random', num_negatives=8)
    neg_text, _, has_text, _ = sampler(
        torch.zeros(3, 3), torch.zeros(3, 3), torch.eye(3, dtype=torch.bool),
        TEMP)
    picks = neg_text.view(2, 3).t()
    assert has_text.all()
    assert (picks.sort(1).values == torch.tensor([[1, 2], [0, 2], [0,
                                                                   1]])).all()


def test_num_negatives_must_be_positive():
    with pytest.raises(ValueError, match='num_negatives'):
        VTMNegativeSampler(num_negatives=0)
