"""VideoTextShardDataset on real tars and real videos: the same samples as
the file dataset, a split with no duplicate and no gap, bad input counted
and named."""
import io
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub, MMLogger
from PIL import Image
from torch.utils.data import DataLoader

import alpro.datasets.video_text_shard_dataset as shard_module
from alpro.datasets import ShardOpenError, VideoTextShardDataset, WebVidDataset
from alpro.engine import BadSampleHook
from tests.shard_files import (cut_in_header, keys_of, truncate,
                               video2dataset_sample, write_corpus, write_tar)
from tests.tool_modules import load_tool

pack_shards = load_tool('tools/data/pack_shards.py')

TEST_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=4, strategy='uniform'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackVideoTextInputs'),
]
# one frame, no resize: the cheapest real decode, for order and split tests
LIGHT_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=1, strategy='uniform'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]


def pack(root: Path, ann: Path, per_shard: int) -> Path:
    """Shards of the WebVid corpus under ``root``, by pack_shards.py."""
    out = root / 'shards'
    pack_shards.pack(
        pack_shards.parse_args([
            str(out), '--dataset-type', 'WebVidDataset', '--ann-file',
            str(ann), '--data-root',
            str(root / 'videos'), '--max-samples-per-shard',
            str(per_shard)
        ]),
        out=io.StringIO())
    return out


@pytest.fixture(scope='module')
def corpus(tmp_path_factory) -> Path:
    """10 videos, their CSV and 5 packed shards of 2 samples."""
    root = tmp_path_factory.mktemp('shard_corpus')
    pack(root, write_corpus(root, 10), per_shard=2)
    return root


def read_all(shards, pipeline=TEST_PIPELINE, **kwargs) -> list:
    dataset = VideoTextShardDataset(
        shards, pipeline=pipeline, shuffle=False, seed=0, **kwargs)
    return list(dataset)


# ------------------------------------------------ the same samples, any way
def test_packed_and_hand_made_shards_read_as_the_file_dataset(
        corpus, tmp_path):
    packed = read_all(str(corpus / 'shards/{00000..00004}.tar'))
    # the same videos and captions in one tar written with tarfile, in
    # video2dataset's layout, keys in another order
    hand = write_tar(tmp_path / 'hand.tar', [
        video2dataset_sample(f'{i:09d}', corpus / f'videos/p/v{i}.mp4',
                             f'clip {i}') for i in reversed(range(10))
    ])
    by_hand = {s['data_samples'].video_id: s for s in read_all(str(hand))}
    files = WebVidDataset(
        ann_file=str(corpus / 'ann.csv'),
        data_prefix=dict(video=str(corpus / 'videos')),
        pipeline=TEST_PIPELINE,
        test_mode=True)

    assert keys_of(packed) == [f'{i:09d}' for i in range(10)]
    assert sorted(by_hand) == keys_of(packed)
    for index, sample in enumerate(packed):
        key = sample['data_samples'].video_id
        other, file_sample = by_hand[key], files[index]
        assert sample['data_samples'].text == f'clip {index}'
        assert other['data_samples'].text == sample['data_samples'].text
        assert file_sample['data_samples'].text == sample['data_samples'].text
        assert sample['inputs'].shape == (4, 3, 32, 32)
        assert torch.equal(sample['inputs'], other['inputs'])
        assert torch.equal(sample['inputs'], file_sample['inputs'])
        assert sample['data_samples'].frame_inds == [0, 2, 4, 6]
        assert sample['data_samples'].video_path.endswith(f'/{key}.mp4')
    # the videos differ (seeded noise), so equal frames are not a fluke
    assert not torch.equal(packed[0]['inputs'], packed[1]['inputs'])


def test_caption_from_a_json_field_and_fsspec_url(corpus):
    import fsspec
    sample = video2dataset_sample('k0', corpus / 'videos/p/v3.mp4', 'txt')
    sample['json'] = json.dumps({'caption': 'from json', 'status': 'ok'})
    path = write_tar(corpus / 'json_caption.tar', [sample])
    with fsspec.open('memory://shards/a.tar', 'wb') as f:
        f.write(path.read_bytes())
    for url in (str(path), 'memory://shards/a.tar', f'pipe:cat {path}'):
        out, = read_all(url, caption_field='caption')
        assert out['data_samples'].text == 'from json'
        assert out['data_samples'].video_path == f'{url}/k0.mp4'
    out, = read_all(str(path))
    assert out['data_samples'].text == 'txt'


def test_images_decode_from_bytes_as_from_files(tmp_path):
    rng = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 255, (40, 50, 3), generator=rng)
    image = tmp_path / 'img.png'
    Image.fromarray(pixels.to(torch.uint8).numpy()).save(image)
    shard = write_tar(tmp_path / 'img.tar',
                      [dict(key='a', png=image.read_bytes(), txt='a photo')])
    pipeline = [
        dict(type='LoadImageAsClip', num_frames=2),
        dict(type='PackVideoTextInputs')
    ]
    out, = read_all(str(shard), pipeline=pipeline)
    assert out['data_samples'].img_path == f'{shard}/a.png'
    assert torch.equal(out['inputs'][0],
                       pixels.permute(2, 0, 1).to(torch.uint8))


def test_image_samples_take_the_image_pipeline(corpus, tmp_path):
    """One dataset over video and image shards: each sample through its own
    pipeline, the image pipeline's random transforms seeded in streams of
    their own."""
    image = tmp_path / 'img.png'
    Image.new('RGB', (40, 50), (200, 30, 30)).save(image)
    images = write_tar(tmp_path / 'img.tar', [
        dict(key=f'i{i}', png=image.read_bytes(), txt='a photo')
        for i in range(3)
    ])
    image_pipeline = [
        dict(type='LoadImageAsClip', num_frames=2),
        dict(type='Resize', scale=(8, 8)),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='PackVideoTextInputs')
    ]
    videos = sorted(str(p) for p in (corpus / 'shards').glob('*.tar'))
    dataset = VideoTextShardDataset(
        videos + [str(images)],
        pipeline=TEST_PIPELINE,
        image_pipeline=image_pipeline,
        shuffle=False,
        seed=0)
    out = list(dataset)
    shapes = {tuple(o['inputs'].shape) for o in out}
    assert shapes == {(4, 3, 32, 32), (2, 3, 8, 8)}
    assert sum(o['inputs'].shape[-1] == 8 for o in out) == 3
    flip = dataset.image_pipeline.transforms[2]
    assert flip._sample_seed is dataset.sample_seed
    streams = [
        t._stream for t in dataset.pipeline.transforms
        if hasattr(t, '_stream')
    ]
    assert flip._stream not in streams


# ----------------------------------------------------- order and the split
def test_ranks_and_workers_split_the_shards_without_duplicates(
        corpus, monkeypatch):
    shards = str(corpus / 'shards/{00000..00004}.tar')  # 5 shards, uneven
    seen = []
    for rank in range(2):
        monkeypatch.setattr(shard_module, 'get_dist_info', lambda: (rank, 2))
        dataset = VideoTextShardDataset(
            shards, pipeline=LIGHT_PIPELINE, seed=3, shuffle_buffer=3)
        assert dataset.rank == rank
        loader = DataLoader(
            dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate)
        rank_keys = [
            s.video_id for batch in loader for s in batch['data_samples']
        ]
        assert rank_keys, f'rank {rank} read nothing'
        seen.extend(rank_keys)
    assert sorted(seen) == [f'{i:09d}' for i in range(10)]


def test_shards_of_partitions_every_epoch(corpus):
    dataset = VideoTextShardDataset(
        str(corpus / 'shards/{00000..00004}.tar'), seed=0)
    orders = []
    for epoch in range(3):
        dataset.set_epoch(epoch)
        parts = [
            dataset.shards_of(rank, 2, worker, 2) for rank in range(2)
            for worker in range(2)
        ]
        flat = [index for part in parts for index, _ in part]
        assert sorted(flat) == list(range(5))
        orders.append(flat)
    assert len({tuple(o) for o in orders}) > 1, 'the epoch must reshuffle'


def test_shuffle_is_seeded(corpus):
    shards = str(corpus / 'shards/{00000..00004}.tar')

    def order(seed, epoch=0):
        dataset = VideoTextShardDataset(
            shards, pipeline=LIGHT_PIPELINE, seed=seed, shuffle_buffer=4)
        dataset.set_epoch(epoch)
        return keys_of(list(dataset))

    first = order(0)
    assert sorted(first) == [f'{i:09d}' for i in range(10)]
    assert order(0) == first
    assert order(1) != first or order(2) != first
    assert order(0, epoch=1) != first


# ------------------------------------------------------------- bad input
@pytest.fixture
def bad_shards(corpus, tmp_path, bad_videos):
    """``good.tar``: ok, garbage video, empty caption, no caption, ok;
    ``cut.tar``: 4 good samples, truncated in its third."""
    video = corpus / 'videos/p/v0.mp4'
    good = write_tar(tmp_path / 'good.tar', [
        video2dataset_sample('a', video, 'first'),
        dict(key='b', mp4=bad_videos['garbage'].read_bytes(), txt='x'),
        video2dataset_sample('c', video, '  '),
        dict(key='d', mp4=video.read_bytes()),
        video2dataset_sample('e', video, 'last'),
    ])
    cut = write_tar(
        tmp_path / 'cut.tar',
        [video2dataset_sample(k, video, f'cut {k}') for k in 'fghi'])
    truncate(cut, 0.6)
    return good, cut


def test_bad_samples_are_skipped_counted_and_named(bad_shards):
    good, cut = bad_shards
    dataset = VideoTextShardDataset([str(good), str(cut)],
                                    pipeline=LIGHT_PIPELINE,
                                    shuffle=False,
                                    seed=0)
    out = list(dataset)
    assert keys_of(out) == ['a', 'e', 'f', 'g']
    replaced = [s['data_samples'].replaced for s in out]
    assert replaced[0] == [] and replaced[2:] == [[], []]
    assert replaced[1] == [f'{good}/b.mp4', f'{good}/c.mp4', f'{good}/d.mp4']
    first, second = dataset.shard_reports
    assert (first.url, first.samples, first.num_bad) == (str(good), 5, 3)
    assert first.bad_keys == ['b', 'c', 'd']
    assert first.bad['empty caption'] == 1
    assert first.bad['no caption (.txt member)'] == 1
    assert [r for r in first.bad if r.startswith('cannot open')]
    assert first.truncated is None
    # the cut falls in the third sample, which comes out without its .txt
    assert second.truncated.startswith('ReadError')
    assert (second.samples, second.bad_keys) == (3, ['h'])
    assert 'truncated or corrupt after 3 samples' in second.summary()
    # what is lost is named to the next sample handed out: none follows
    # the cut shard above, so read it first
    out = list(
        VideoTextShardDataset([str(cut), str(good)],
                              pipeline=LIGHT_PIPELINE,
                              shuffle=False,
                              seed=0))
    assert keys_of(out) == ['f', 'g', 'a', 'e']
    assert out[2]['data_samples'].replaced == [f'{cut}/h.mp4', str(cut)]


class Collect(logging.Handler):
    """Keeps the messages logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_shard_counts_are_logged_when_final(bad_shards):
    # the buffer holds the whole shard: its bad samples are met after the
    # tar was read to its end, and the shard's line must count them
    good, _ = bad_shards
    dataset = VideoTextShardDataset(
        str(good), pipeline=LIGHT_PIPELINE, seed=0, shuffle_buffer=100)
    logger = MMLogger.get_current_instance()
    collect = Collect()
    logger.addHandler(collect)
    try:
        assert sorted(keys_of(list(dataset))) == ['a', 'e']
    finally:
        logger.removeHandler(collect)
    report, = dataset.shard_reports
    assert report.complete and report.processed == 5
    logged = collect.messages
    lines = [line for line in logged if line.startswith(f'shard {good}:')]
    assert len(lines) == 1 and '5 samples, 3 bad skipped' in lines[0]
    # after the last of its bad samples
    assert logged.index(lines[0]) > max(i for i, line in enumerate(logged)
                                        if line.startswith('bad sample'))


def fake_runner(dataset):
    return SimpleNamespace(
        logger=MMLogger.get_instance('shard_bad_sample_test'),
        message_hub=MessageHub.get_instance('shard_bad_sample_test'),
        train_dataloader=SimpleNamespace(dataset=dataset))


def test_bad_sample_hook_counts_and_bounds_shard_samples(bad_shards):
    good, cut = bad_shards
    dataset = VideoTextShardDataset([str(cut), str(good)],
                                    pipeline=LIGHT_PIPELINE,
                                    shuffle=False,
                                    seed=0)
    batch = pseudo_collate(list(dataset))
    hook = BadSampleHook(max_bad_ratio=0.5)
    hook.after_train_iter(fake_runner(dataset), 0, batch)  # unbounded
    assert hook.bad_paths == {
        str(cut), f'{cut}/h.mp4', f'{good}/b.mp4', f'{good}/c.mp4',
        f'{good}/d.mp4'
    }
    assert fake_runner(dataset).message_hub.get_scalar(
        'train/bad_samples').current() == 5
    dataset.num_samples = 8  # 5 bad > 0.5 * 8
    with pytest.raises(RuntimeError, match='5 bad training files'):
        BadSampleHook(max_bad_ratio=0.5).after_train_iter(
            fake_runner(dataset), 0, batch)


def test_too_many_bad_in_a_row_stops(bad_shards):
    good, _ = bad_shards
    dataset = VideoTextShardDataset(
        str(good),
        pipeline=LIGHT_PIPELINE,
        shuffle=False,
        seed=0,
        max_refetch=2)
    with pytest.raises(RuntimeError, match='3 bad samples in a row'):
        list(dataset)


def test_test_mode_stops_or_leaves_out(bad_shards, corpus, tmp_path):
    good, cut = bad_shards
    with pytest.raises(RuntimeError, match=r'good\.tar/b\.mp4'):
        read_all(str(good), pipeline=LIGHT_PIPELINE, test_mode=True)
    # cut between whole samples: only the truncation is wrong
    video = corpus / 'videos/p/v0.mp4'
    clean_cut = cut_in_header(
        write_tar(tmp_path / 'clean_cut.tar',
                  [video2dataset_sample(k, video, k) for k in 'xyz']), 'z.mp4')
    with pytest.raises(RuntimeError, match=r'clean_cut\.tar is truncated'):
        read_all(str(clean_cut), pipeline=LIGHT_PIPELINE, test_mode=True)
    out = read_all(
        str(clean_cut), pipeline=LIGHT_PIPELINE, test_mode=True, skip_bad=True)
    assert keys_of(out) == ['x', 'y']
    out = read_all(
        str(good), pipeline=LIGHT_PIPELINE, test_mode=True, skip_bad=True)
    left_out = [s['data_samples'].get('left_out') for s in out]
    assert left_out == [
        None, f'{good}/b.mp4', f'{good}/c.mp4', f'{good}/d.mp4', None
    ]


def test_a_shard_that_cannot_be_opened_is_named(corpus, tmp_path):
    missing = tmp_path / 'gone' / '00007.tar'
    with pytest.raises(FileNotFoundError, match=r'gone/00007\.tar'):
        VideoTextShardDataset([str(corpus / 'shards/00000.tar'), str(missing)])
    dataset = VideoTextShardDataset(
        f'pipe:cat {missing}', pipeline=LIGHT_PIPELINE, seed=0)
    with pytest.raises(
            ShardOpenError,
            match=r'cannot open shard pipe:cat .*'
            r'gone/00007\.tar'):
        list(dataset)
    dataset = VideoTextShardDataset(
        'memory://nowhere/00000.tar', pipeline=LIGHT_PIPELINE, seed=0)
    with pytest.raises(ShardOpenError, match='memory://nowhere/00000.tar'):
        list(dataset)


def test_fewer_shards_than_ranks_is_refused(corpus, monkeypatch):
    monkeypatch.setattr(shard_module, 'get_dist_info', lambda: (0, 8))
    with pytest.raises(ValueError, match='5 shards for 8 ranks'):
        VideoTextShardDataset(str(corpus / 'shards/{00000..00004}.tar'))


def read_keys_on_rank(rank: int, out_dir: str) -> None:
    """A gloo rank's keys through a loader of 2 workers, saved as ints."""
    shards = (Path(out_dir) / 'shards.txt').read_text()
    dataset = VideoTextShardDataset(shards, pipeline=LIGHT_PIPELINE)
    assert (dataset.rank, dataset.world_size) == (rank, 2)
    loader = DataLoader(
        dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate)
    keys = [int(s.video_id) for batch in loader for s in batch['data_samples']]
    torch.save(
        dict(keys=torch.tensor(keys), seed=dataset.seed),
        Path(out_dir) / f'rank{rank}.pt')


@pytest.mark.slow
def test_two_gloo_ranks_split_the_shards(corpus, tmp_path):
    from tests.tool_runs import run_gloo_workers
    (tmp_path / 'shards.txt').write_text(
        str(corpus / 'shards/{00000..00004}.tar'))
    results = run_gloo_workers(read_keys_on_rank, tmp_path)
    # the seed, drawn on rank 0, is shared
    assert results[0]['seed'] == results[1]['seed']
    keys = [k for r in results for k in r['keys'].tolist()]
    assert all(len(r['keys']) for r in results)
    assert sorted(keys) == list(range(10))
