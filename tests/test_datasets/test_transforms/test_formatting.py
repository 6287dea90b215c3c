"""PackVideoTextInputs, alone and at the end of a real pipeline."""
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose

from alpro.datasets.transforms import PackVideoTextInputs
from alpro.structures import VideoTextDataSample


def sample_results(**extra):
    imgs = torch.randint(0, 256, (4, 3, 8, 10), dtype=torch.uint8)
    results = dict(
        imgs=imgs,
        img_shape=(8, 10),
        frame_inds=np.array([0, 3, 6, 9], dtype=np.int64),
        sample_idx=5,
        video_id='v5',
        video_path='/data/v5.mp4',
        text='a dog runs',
        avg_fps=30.0)
    results.update(extra)
    return results


def test_pack_types_shapes_and_metainfo():
    results = sample_results()
    packed = PackVideoTextInputs()(results)
    assert set(packed) == {'inputs', 'data_samples'}
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (4, 3, 8, 10)
    assert inputs.is_contiguous() and torch.equal(inputs, results['imgs'])
    assert isinstance(sample, VideoTextDataSample)
    assert sample.metainfo == dict(
        img_shape=(8, 10),
        frame_inds=[0, 3, 6, 9],
        sample_idx=5,
        video_id='v5',
        video_path='/data/v5.mp4')
    assert all(type(i) is int for i in sample.frame_inds)
    assert sample.text == 'a dog runs'
    assert 'text' in sample.keys() and 'text' not in sample.metainfo_keys()
    assert 'avg_fps' not in sample  # not a meta key: left out


def test_pack_data_keys_and_replaced():
    results = sample_results(answer_label=7, replaced=['/data/bad.mp4'])
    packed = PackVideoTextInputs(data_keys=('answer_label', ))(results)
    sample = packed['data_samples']
    assert sample.answer_label == 7
    assert sample.replaced == ['/data/bad.mp4']
    assert 'replaced' in sample.metainfo_keys()
    with pytest.raises(KeyError, match='question_id'):
        PackVideoTextInputs(data_keys=('question_id', ))(sample_results())


def test_pack_without_text():
    results = sample_results()
    del results['text']
    sample = PackVideoTextInputs()(results)['data_samples']
    assert 'text' not in sample


def test_pack_makes_an_expanded_clip_contiguous():
    frame = torch.randint(0, 256, (1, 3, 8, 10), dtype=torch.uint8)
    results = sample_results(imgs=frame.expand(4, -1, -1, -1))
    inputs = PackVideoTextInputs()(results)['inputs']
    assert inputs.is_contiguous() and inputs.stride(0) == 3 * 8 * 10
    assert torch.equal(inputs[3], frame[0])


def test_pack_errors():
    results = sample_results()
    del results['imgs']
    with pytest.raises(KeyError, match='DecordDecode'):
        PackVideoTextInputs()(results)
    with pytest.raises(TypeError, match='uint8'):
        PackVideoTextInputs()(sample_results(imgs=torch.zeros(4, 3, 8, 10)))
    assert repr(PackVideoTextInputs(meta_keys=('video_id', ))) == (
        "PackVideoTextInputs(meta_keys=('video_id',), data_keys=())")


def test_full_pipeline_on_a_real_video(video_factory):
    path = video_factory(num_frames=16, size=(64, 48))
    pipeline = Compose([
        dict(type='alpro.DecordInit'),
        dict(type='alpro.SampleFrames', num_frames=4, strategy='rand'),
        dict(type='alpro.DecordDecode'),
        dict(type='alpro.Resize', scale=40, keep_ratio=True),
        dict(type='alpro.RandomCrop', size=32),
        dict(type='alpro.Flip'),
        dict(type='alpro.TemporalConsistentRandAugment'),
        dict(type='alpro.PackVideoTextInputs'),
    ])
    np.random.seed(0)
    packed = pipeline(dict(video_path=str(path), text='a red square'))
    assert packed['inputs'].shape == (4, 3, 32, 32)
    assert packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    assert sample.img_shape == (32, 32)
    assert sample.video_path == str(path)
    assert sample.frame_inds == sorted(set(sample.frame_inds))
    assert sample.text == 'a red square'
