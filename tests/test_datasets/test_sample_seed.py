"""Every random draw of the shipped training pipeline is a function of
(seed, epoch, rank, sample index): the same batches with 0 or 2 workers,
persistent or not, and from a loader started afresh at a later epoch (what a
resumed run does)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from alpro.datasets import sample_seed
from alpro.datasets.samplers import SeededSampler
from alpro.datasets.transforms import Flip, RandomCrop
from alpro.utils import register_all_modules

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/_base_/datasets/demo_webvid.py'


def demo_loader(num_workers: int, persistent: bool):
    """The demo config's training loader, batch 4, with a real sampler."""
    register_all_modules()
    cfg = Config.fromfile(CONFIG).train_dataloader
    cfg.update(
        batch_size=4, num_workers=num_workers, persistent_workers=persistent)
    return Runner.build_dataloader(cfg, seed=7)


def epoch_batches(loader, epoch: int) -> list:
    """``(sample_idx, clip, frame_inds)`` of every sample of ``epoch``, as
    MMEngine's loop reads them (the sampler's epoch set first)."""
    loader.sampler.set_epoch(epoch)
    out = []
    for batch in loader:
        for clip, sample in zip(batch['inputs'], batch['data_samples']):
            out.append((sample.sample_idx, clip, sample.frame_inds))
    return out


def assert_same(first: list, second: list) -> None:
    assert [s[0] for s in first] == [s[0] for s in second]
    for (idx, clip_a, inds_a), (_, clip_b, inds_b) in zip(first, second):
        assert inds_a == inds_b, idx
        assert torch.equal(clip_a, clip_b), idx


def test_same_batches_with_any_workers_and_after_a_restart(
        demo_corpus, monkeypatch):
    monkeypatch.chdir(demo_corpus)
    reference = demo_loader(num_workers=0, persistent=False)
    assert isinstance(reference.sampler, SeededSampler)
    epochs = [epoch_batches(reference, epoch) for epoch in (0, 1)]
    # the pipeline does draw: epoch 1 augments the clips otherwise
    assert any(not torch.equal(a[1], b[1]) for a, b in zip(
        sorted(epochs[0], key=lambda s: s[0]),
        sorted(epochs[1], key=lambda s: s[0])))
    for workers, persistent in [(2, True), (2, False)]:
        loader = demo_loader(workers, persistent)
        for epoch in (0, 1):
            assert_same(epochs[epoch], epoch_batches(loader, epoch))
    # a resumed run starts its workers at epoch 1
    restarted = demo_loader(num_workers=2, persistent=True)
    assert_same(epochs[1], epoch_batches(restarted, 1))


def test_draws_depend_on_seed_epoch_rank_and_index():
    seed = sample_seed.SampleSeed(seed=3, rank=0)
    first = seed.generator(5, (1, )).integers(1 << 30, size=4)
    assert (seed.generator(5, (1, )).integers(1 << 30, size=4) == first).all()
    seed.set_epoch(1)
    assert (seed.generator(5, (1, )).integers(1 << 30, size=4) != first).any()
    seed.set_epoch(0)
    for other in (sample_seed.SampleSeed(seed=4),
                  sample_seed.SampleSeed(seed=3, rank=1)):
        assert (other.generator(5, (1, )).integers(1 << 30, size=4)
                != first).any()
    assert (seed.generator(6, (1, )).integers(1 << 30, size=4) != first).any()
    assert (seed.generator(5, (2, )).integers(1 << 30, size=4) != first).any()


def test_transforms_of_one_sample_draw_apart():
    # two flips at different places of a pipeline must not flip together
    seed = sample_seed.SampleSeed(seed=0)
    clip = torch.arange(2 * 3 * 4 * 8, dtype=torch.uint8).reshape(2, 3, 4, 8)
    first, second = Flip(0.5), Flip(0.5)
    first.bind_sample_seed(seed, (0, ))
    second.bind_sample_seed(seed, (1, ))
    decisions = [(first(dict(imgs=clip, sample_idx=i))['flip'],
                  second(dict(imgs=clip, sample_idx=i))['flip'])
                 for i in range(40)]
    assert any(a != b for a, b in decisions)


def test_bound_transform_needs_the_sample_index():
    crop = RandomCrop(2)
    crop.bind_sample_seed(sample_seed.SampleSeed(seed=0), (0, ))
    with pytest.raises(KeyError, match='sample_idx'):
        crop(dict(imgs=torch.zeros(1, 3, 4, 4, dtype=torch.uint8)))


def test_unbound_transform_follows_numpy_global_seed():
    clip = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    np.random.seed(0)
    first = [RandomCrop(4)(dict(imgs=clip))['crop_bbox'] for _ in range(5)]
    np.random.seed(0)
    assert [RandomCrop(4)(dict(imgs=clip))['crop_bbox']
            for _ in range(5)] == first
