"""VTM hard negatives under two real gloo ranks: drawn from the rank's own
block of the gathered similarity matrix, never the positive."""
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from alpro.models.algorithms import AlproPretrainer
from alpro.models.heads import VTCHead, VTMHead
from tests.tool_runs import run_gloo_workers

pytestmark = pytest.mark.slow

WORLD_SIZE = 2
LOCAL_BATCH = 4
DRAWS = 100


def features(rank: int):
    """Local ``(B, D)`` video and text features of one rank.

    Video ``g`` (global index) is the basis vector ``e_g``. Local text
    ``i`` mixes its positive video, the local video ``i + 1`` and, with the
    largest weight, video ``i + 2`` of the OTHER rank. So, inside this
    rank's block, the hardest negative of text ``i`` is video ``i + 1`` and
    that of video ``i`` is text ``i - 1``; a sampler reading the other
    rank's block would prefer other indices.
    """
    size, dim = LOCAL_BATCH, WORLD_SIZE * LOCAL_BATCH
    local = torch.arange(size)
    video = torch.eye(dim)[rank * size + local]
    other = (1 - rank) * size
    text = (0.3 * torch.eye(dim)[rank * size + local] +
            0.6 * torch.eye(dim)[rank * size + (local + 1) % size] +
            0.8 * torch.eye(dim)[other + (local + 2) % size])
    return video, F.normalize(text, dim=-1)


def worker(rank: int, out_dir: str) -> None:
    """One gloo rank (``run_gloo_workers``)."""
    torch.manual_seed(rank)
    # what the model's draw uses
    model = SimpleNamespace(vtc_head=VTCHead(), vtm_head=VTMHead(in_dims=8))
    video, text = features(rank)
    with torch.no_grad():
        sim_v2t, sim_t2v = model.vtc_head(video, text)
        draws = [
            AlproPretrainer.draw_negatives(model, sim_v2t, sim_t2v)[:2]
            for _ in range(DRAWS)
        ]
    torch.save(
        dict(
            columns=sim_v2t.size(1),
            neg_text=torch.stack([d[0] for d in draws]),
            neg_video=torch.stack([d[1] for d in draws])),
        Path(out_dir) / f'rank{rank}.pt')


def test_negatives_come_from_the_local_block_under_two_ranks(tmp_path):
    results = run_gloo_workers(worker, tmp_path, WORLD_SIZE)
    local = torch.arange(LOCAL_BATCH)
    for result in results:
        assert result['columns'] == WORLD_SIZE * LOCAL_BATCH  # gathered
        neg_text, neg_video = result['neg_text'], result['neg_video']
        for draws in (neg_text, neg_video):
            assert draws.shape == (DRAWS, LOCAL_BATCH)
            assert ((draws >= 0) & (draws < LOCAL_BATCH)).all()
            assert (draws != local).all()  # never the positive
        # the hardest local negatives, from this rank's own block
        hardest_video = (local + 1) % LOCAL_BATCH
        hardest_text = (local - 1) % LOCAL_BATCH
        assert (neg_video == hardest_video).float().mean() > 0.9
        assert (neg_text == hardest_text).float().mean() > 0.9
