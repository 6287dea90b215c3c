"""Bad videos: replaced in training (deterministically, counted, bounded),
never replaced in validation/test (stop, or leave out and report)."""
import csv
import shutil
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger

from alpro.datasets import WebVidDataset
from alpro.engine import BadSampleHook
from alpro.evaluation import BaseVideoTextMetric
from tests.video_files import write_video

PIPELINE = [
    dict(type='DecordInit'),
    # 8 frames: every frame of the truncated avi, whose last one is broken
    dict(type='SampleFrames', num_frames=8, strategy='uniform'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]
BAD_KINDS = ('missing', 'empty', 'truncated', 'truncated_avi', 'garbage')


def make_dataset(tmp_path, bad_videos, bad_kind, **kwargs):
    """Videos ok0..ok3 and one bad file (index 2) under one root."""
    root = tmp_path / 'videos'
    names = []
    for i in range(4):
        write_video(root / 'p' / f'ok{i}.mp4', num_frames=8, seed=i)
        names.append(f'ok{i}')
    bad = bad_videos[bad_kind]
    if bad.exists():  # ffmpeg probes the container: an avi may say .mp4
        shutil.copy(bad, root / 'p' / 'bad.mp4')
    names.insert(2, 'bad')
    ann = tmp_path / 'ann.csv'
    with open(ann, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(
            ['videoid', 'contentUrl', 'duration', 'page_dir', 'name'])
        for name in names:
            writer.writerow([name, 'u', 'PT00H00M01S', 'p', f'caption {name}'])
    return WebVidDataset(
        ann_file=str(ann),
        data_prefix=dict(video=str(root)),
        pipeline=PIPELINE,
        **kwargs)


@pytest.mark.parametrize('kind', BAD_KINDS)
def test_training_replaces_bad_sample(tmp_path, bad_videos, kind):
    dataset = make_dataset(tmp_path, bad_videos, kind)
    out = dataset[2]
    sample = out['data_samples']
    assert sample.replaced == [str(tmp_path / 'videos/p/bad.mp4')]
    assert sample.text != 'caption bad'
    assert out['inputs'].shape[0] == 8
    # deterministic: the same replacement every time, and per seed
    assert dataset[2]['data_samples'].text == sample.text
    seeds = {
        make_dataset(tmp_path / str(s), bad_videos, kind,
                     replace_seed=s)[2]['data_samples'].text
        for s in range(6)
    }
    assert len(seeds) > 1
    # good samples carry an empty list
    assert dataset[0]['data_samples'].replaced == []


def test_short_clip_repeats_frames_in_order(tmp_path, bad_videos):
    dataset = make_dataset(tmp_path, bad_videos, 'missing')
    shutil.copy(bad_videos['short'], tmp_path / 'videos/p/ok0.mp4')
    out = dataset[0]
    assert out['data_samples'].replaced == []
    assert out['data_samples'].short_clip is True
    assert dataset[1]['data_samples'].short_clip is False
    assert out['data_samples'].frame_inds == [0, 0, 0, 0, 1, 1, 1, 1]
    assert torch.equal(out['inputs'][0], out['inputs'][3])
    assert not torch.equal(out['inputs'][3], out['inputs'][4])


@pytest.mark.parametrize('kind', BAD_KINDS)
def test_test_mode_never_replaces(tmp_path, bad_videos, kind):
    dataset = make_dataset(tmp_path, bad_videos, kind, test_mode=True)
    with pytest.raises(RuntimeError, match=r'bad\..*never replaced'):
        dataset[2]


def test_test_mode_skip_bad_leaves_out_and_metric_counts(
        tmp_path, bad_videos, tokenizer_dir):
    from mmengine.dataset import pseudo_collate

    from alpro.models.data_preprocessors import VideoTextDataPreprocessor
    dataset = make_dataset(
        tmp_path, bad_videos, 'garbage', test_mode=True, skip_bad=True)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    assert batch['inputs'][2] is None
    assert batch['data_samples'][2].left_out.endswith('bad.mp4')

    class CaptionCount(BaseVideoTextMetric):
        """Counts the kept outputs: a tiny metric for the test."""

        def process_kept(self, data_batch, data_samples):
            self.results.extend({'kept': 1} for _ in data_samples)

        def compute_kept(self, results):
            return {'kept': sum(r['kept'] for r in results)}

    pre = VideoTextDataPreprocessor(tokenizer=dict(path=str(tokenizer_dir)))
    kept = pre(batch)['data_samples']
    metric = CaptionCount()
    metric.process(batch, kept)
    assert metric.evaluate(len(dataset)) == {'kept': 4, 'left_out': 1}


def fake_runner(dataset_len):
    return SimpleNamespace(
        logger=MMLogger.get_instance('bad_sample_test'),
        message_hub=MessageHub.get_instance('bad_sample_test'),
        train_dataloader=SimpleNamespace(dataset=range(dataset_len)))


def batch_with(replaced_lists):
    from alpro.structures import VideoTextDataSample
    return dict(data_samples=[
        VideoTextDataSample(metainfo=dict(replaced=r)) for r in replaced_lists
    ])


def test_hook_counts_logs_and_stops_past_ratio(tmp_path):
    hook = BadSampleHook(max_bad_ratio=0.02)
    runner = fake_runner(100)  # 2 bad files allowed
    hook.after_train_iter(runner, 0, batch_with([[], ['a.mp4'], []]))
    hook.after_train_iter(runner, 1, batch_with([['a.mp4'], ['b.mp4']]))
    assert hook.bad_paths == {'a.mp4', 'b.mp4'}
    assert runner.message_hub.get_scalar('train/bad_samples').current() == 2
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(runner, 2, batch_with([['c.mp4', 'd.mp4']]))
    message = str(info.value)
    assert '4 bad training files' in message
    assert all(name in message for name in ('a.mp4', 'b.mp4', 'c.mp4'))


def test_hook_counts_short_clips_without_stopping():
    from alpro.structures import VideoTextDataSample
    hook = BadSampleHook(max_bad_ratio=0.0)
    runner = fake_runner(10)
    batch = dict(data_samples=[
        VideoTextDataSample(
            metainfo=dict(video_path=f'{name}.mp4', short_clip=short))
        for name, short in (('s1', True), ('ok', False), ('s2', True))
    ])
    hook.after_train_iter(runner, 0, batch)
    hook.after_train_iter(runner, 1, batch)
    assert hook.short_paths == {'s1.mp4', 's2.mp4'}
    assert runner.message_hub.get_scalar('train/short_clips').current() == 2
