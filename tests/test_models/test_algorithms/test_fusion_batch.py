"""FusionBatch: named groups in, one fusion call, the same groups out."""
import pytest
import torch

from alpro.models.algorithms.fusion_batch import FusionBatch


def test_groups_come_back_by_name_from_one_call():
    calls = []

    def fuse(video, text, mask):
        calls.append(video.size(0))
        return torch.cat([text * mask.unsqueeze(-1), video], dim=1)

    batch = FusionBatch()
    assert not batch
    sizes = dict(positives=2, negatives=4, masked=2)
    for value, (name, size) in enumerate(sizes.items()):
        batch.add(name, torch.full((size, 3, 1), float(value)),
                  torch.ones(size, 3), torch.full((size, 2, 1), -value))
    fused = batch.fuse(fuse)
    assert calls == [8]  # one pass over every pair
    assert list(fused) == list(sizes)
    for value, (name, size) in enumerate(sizes.items()):
        assert fused[name].shape == (size, 5, 1)
        assert (fused[name][:, :3] == value).all()
        assert (fused[name][:, 3:] == -value).all()
    with pytest.raises(KeyError, match='positives'):
        batch.add('positives', *(torch.zeros(1, 1, 1), ) * 3)
