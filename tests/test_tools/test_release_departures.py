"""tools/analysis/release_departures.py: the two rules of each departure
computed as the paper / release state them (the end-to-end run on a demo
stage-2 checkpoint is in test_demo_pretrain.py)."""
import pytest
import torch
import torch.nn.functional as F

from tests.tool_modules import load_tool

release_departures = load_tool('tools/analysis/release_departures.py')


def test_keep_rules_threshold_against_entity_zero():
    probs = torch.tensor([
        [0.90, 0.05, 0.05],  # confident on entity 0: paper keeps, release not
        [0.10, 0.45, 0.45],  # both keep
        [0.30, 0.35, 0.35],  # max 0.35 < 0.4: only the release keeps
    ])
    rules = release_departures.keep_rules(probs, threshold=0.4)
    assert rules['paper'].tolist() == [True, True, False]
    assert rules['release'].tolist() == [False, True, True]


def test_vtc_local_rank_targets_miss_on_every_node_but_the_first():
    torch.manual_seed(0)
    feats = F.normalize(torch.randn(16, 8), dim=-1)
    # text = video: each pair is its own best match
    losses = release_departures.vtc_rank_losses(
        feats, feats.clone(), temperature=0.05, nodes=2, gpus_per_node=2)
    assert losses['global_'].shape == losses['local'].shape == (4, )
    # node 0: both rules point at the same rows
    torch.testing.assert_close(losses['local'][:2], losses['global_'][:2])
    # node 1: the release's targets are another rank's pairs
    assert (losses['global_'][2:] < 0.5).all()
    assert (losses['local'][2:] > 5.0).all()


def test_vtc_rank_losses_need_a_sample_per_rank():
    feats = torch.ones(3, 4)
    with pytest.raises(ValueError, match='cannot fill 4 ranks'):
        release_departures.vtc_rank_losses(feats, feats, 0.05, 2, 2)
