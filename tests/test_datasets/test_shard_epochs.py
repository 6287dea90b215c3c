"""Nominal epochs of VideoTextShardDataset on real tars: the same number of
samples on every rank whatever the shard split, a reshuffle per epoch, and
a resume position that continues the stream exactly."""
import pickle
from pathlib import Path
from typing import List, Tuple

import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

import alpro.datasets.video_text_shard_dataset as shard_module
from alpro.datasets import VideoTextShardDataset
from tests.shard_files import video2dataset_sample, write_corpus, write_tar

# 'rand' frames: the random transforms' draws are part of what must match
PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=2, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]
SIZES = (1, 2, 3, 4, 6)  # 16 samples in 5 uneven shards


@pytest.fixture(scope='module')
def uneven(tmp_path_factory) -> Path:
    """Shards ``{0..4}.tar`` of 1, 2, 3, 4 and 6 samples (keys ``s{shard}
    k{i}``) over 3 real videos; shard 3 has a sample without caption."""
    root = tmp_path_factory.mktemp('uneven')
    write_corpus(root, 3)
    for shard, size in enumerate(SIZES):
        samples = [
            video2dataset_sample(f's{shard}k{i}',
                                 root / f'videos/p/v{(shard + i) % 3}.mp4',
                                 f'clip {shard} {i}') for i in range(size)
        ]
        if shard == 3:
            del samples[1]['txt']  # bad: skipped, counted in the raw stream
        write_tar(root / f'{shard}.tar', samples)
    return root


def dataset_on(root: Path,
               monkeypatch,
               rank: int = 0,
               world: int = 1,
               **kwargs) -> VideoTextShardDataset:
    monkeypatch.setattr(shard_module, 'get_dist_info', lambda: (rank, world))
    kwargs.setdefault('seed', 5)
    kwargs.setdefault('shuffle_buffer', 3)
    return VideoTextShardDataset(
        str(root / '{0..4}.tar'), pipeline=PIPELINE, **kwargs)


def batches(dataset, num_workers: int, limit: int = 1000) -> List[list]:
    """Up to ``limit`` batches of 2, each ``[(key, frame_inds, stream)]``."""
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=num_workers,
        collate_fn=pseudo_collate)
    out = []
    for batch in loader:
        out.append([(s.video_id, tuple(s.frame_inds),
                     tuple(s.get('stream', ())))
                    for s in batch['data_samples']])
        if len(out) == limit:
            break
    return out


def test_every_rank_hands_out_the_same_number_of_samples(uneven, monkeypatch):
    plain, counted = [], []
    for rank in range(2):
        plain.append(
            sum(
                map(len, batches(dataset_on(uneven, monkeypatch, rank, 2),
                                 2))))
        rank_batches = batches(
            dataset_on(uneven, monkeypatch, rank, 2, epoch_length=18), 2)
        counted.append((len(rank_batches), sum(map(len, rank_batches))))
    # without an epoch length the uneven split gives the ranks different
    # numbers of batches: a DDP run would hang at the end
    assert plain[0] != plain[1] and sum(plain) == 15
    # 18 // 2 = 9 per rank, 5 + 4 per worker: 3 + 2 batches of 2
    assert counted == [(5, 9), (5, 9)]


def test_quota_stops_a_worker_with_shards_left(uneven, monkeypatch):
    dataset = dataset_on(uneven, monkeypatch, epoch_length=4)
    out = batches(dataset, 0)
    assert [len(b) for b in out] == [2, 2]
    assert [s[2][3] for b in out for s in b] == [1, 2, 3, 4]  # handed


def test_the_epoch_reshuffles_and_restarts(uneven, monkeypatch):
    dataset = dataset_on(uneven, monkeypatch, epoch_length=10)
    first = batches(dataset, 0)
    dataset.set_epoch(1)
    second = batches(dataset, 0)
    assert sum(map(len, first)) == sum(map(len, second)) == 10
    assert [s[0] for b in first
            for s in b] != [s[0] for b in second for s in b]
    assert {s[2][0] for b in second for s in b} == {1}
    dataset.set_epoch(0)
    assert batches(dataset, 0) == first


@pytest.mark.parametrize('buffer', [3, 100])
def test_an_epoch_of_one_pass_hands_out_each_sample_once(
        uneven, monkeypatch, buffer):
    """The shuffle buffer drains at the end of a pass: with an epoch as long
    as the corpus, no sample comes twice (a buffer that read on into the
    next pass gave duplicates, hence false negatives in a batch) and none is
    missed; a longer epoch starts a second pass."""
    good = sum(SIZES) - 1  # shard 3's sample without caption is skipped
    keys = [
        s[0] for b in batches(
            dataset_on(
                uneven, monkeypatch, shuffle_buffer=buffer, epoch_length=good),
            0) for s in b
    ]
    assert len(keys) == len(set(keys)) == good
    longer = [
        s for b in batches(
            dataset_on(
                uneven,
                monkeypatch,
                shuffle_buffer=buffer,
                epoch_length=good + 5), 0) for s in b
    ]
    assert [s[0] for s in longer[:good]] == keys
    assert len({s[0] for s in longer[good:]}) == 5


def position_after(consumed: List[list],
                   num_workers: int) -> Tuple[int, list, list]:
    """What ShardEpochHook records from the batches a run consumed:
    ``(next worker, raw per worker, handed per worker)``."""
    raw, handed = [0] * num_workers, [0] * num_workers
    for batch in consumed:
        for _, _, (_, worker, r, h) in batch:
            raw[worker], handed[worker] = max(raw[worker],
                                              r), max(handed[worker], h)
    return (worker + 1) % num_workers, raw, handed


@pytest.mark.parametrize('num_workers,k', [(0, 3), (2, 3), (2, 6)])
def test_resume_continues_with_the_same_batches(uneven, monkeypatch,
                                                num_workers, k):

    def fresh():
        return dataset_on(uneven, monkeypatch, epoch_length=22)

    whole = batches(fresh(), num_workers)
    assert sum(map(len, whole)) == 22  # more than the 15 good samples
    next_worker, raw, handed = position_after(whole[:k], max(1, num_workers))
    # the bad sample was read but not handed out
    assert sum(raw) > sum(handed) or k < 6
    resumed = fresh()
    resumed.set_position(0, next_worker, raw, handed)
    assert batches(resumed, num_workers) == whole[k:]
    with pytest.raises(ValueError, match='saved with 1 data-loader workers'):
        resumed.set_position(0, 0, [1], [1])
        next(iter(DataLoader(resumed, num_workers=2)))


def test_only_an_epoch_length_gives_a_length(uneven, monkeypatch):
    # len(loader), MMEngine's LoggerHook and BadSampleHook read it
    dataset = dataset_on(uneven, monkeypatch, 0, 2, epoch_length=18)
    assert len(dataset) == 18 and isinstance(dataset, VideoTextShardDataset)
    assert repr(dataset).startswith('VideoTextShardDataset(')
    assert pickle.loads(pickle.dumps(dataset)).epoch_length == 18
    with pytest.raises(TypeError, match='without epoch_length has no len'):
        len(dataset_on(uneven, monkeypatch))


def test_an_epoch_length_needs_a_shard_per_worker(uneven, monkeypatch):
    dataset = dataset_on(uneven, monkeypatch, 0, 3, epoch_length=9)
    with pytest.raises(ValueError, match='5 shards for 3 ranks x 2 workers'):
        batches(dataset, 2)
    with pytest.raises(ValueError, match='less than one sample per rank'):
        dataset_on(uneven, monkeypatch, 0, 2, epoch_length=1)
