"""Loading transforms on real files: open, sample, decode, image-as-clip."""
from pathlib import Path

import cv2
import decord
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose

from alpro.datasets.errors import BadSampleError
from alpro.datasets.transforms import (DecordDecode, DecordInit,
                                       LoadImageAsClip, SampleFrames)
from alpro.registry import TRANSFORMS


def load(path, num_frames=4, strategy='uniform', **init_kwargs):
    """Run DecordInit -> SampleFrames -> DecordDecode on ``path``."""
    results = dict(video_path=str(path))
    results = DecordInit(**init_kwargs)(results)
    results = SampleFrames(num_frames, strategy)(results)
    return DecordDecode()(results)


def square_x(frame: torch.Tensor) -> int:
    """Left edge of the red square of a (C, H, W) fixture frame (RGB)."""
    r, g, b = frame.int()
    red = (r > 150) & (g < 100) & (b < 100)
    cols = torch.nonzero(red.any(dim=0)).flatten()
    assert len(cols), 'no red square found'
    return int(cols.min())


# --------------------------------------------------------------- DecordInit
def test_decord_init_sets_video_keys(video_factory):
    path = video_factory(num_frames=16, size=(64, 48), fps=8)
    results = DecordInit()(dict(video_path=path))
    assert isinstance(results['video_reader'], decord.VideoReader)
    assert results['total_frames'] == 16
    assert results['avg_fps'] == pytest.approx(8.0)
    assert results['original_shape'] == (48, 64)


@pytest.mark.parametrize('name, reason', [
    ('missing', 'file not found'),
    ('empty', 'empty file'),
    ('truncated', 'cannot open'),
    ('garbage', 'cannot open'),
])
def test_decord_init_bad_files(bad_videos, name, reason):
    path = bad_videos[name]
    with pytest.raises(BadSampleError) as info:
        DecordInit()(dict(video_path=path))
    assert info.value.path == str(path)
    assert info.value.reason.startswith(reason)
    assert str(path) in str(info.value)


def test_truncated_avi_fails_at_open_or_decode(bad_videos):
    path = bad_videos['truncated_avi']
    # The index survives the cut, the last frames' data does not. decord's
    # threaded decoder meets the broken packet either while DecordInit reads
    # the first frame or while DecordDecode reads the sampled ones (it
    # varies from run to run): both must name the file.
    results = dict(video_path=path)
    with pytest.raises(BadSampleError) as info:
        results = DecordInit()(results)
        results = SampleFrames(results['total_frames'], 'uniform')(results)
        DecordDecode()(results)
    assert info.value.path == str(path)
    assert info.value.reason.startswith(
        ('cannot open: ', 'cannot decode frames [0, 1,'))
    assert 'video_reader' not in results  # released even on failure


def test_decode_failure_releases_the_reader(video_factory):
    path = str(video_factory('ok.mp4', num_frames=4))
    results = DecordInit()(dict(video_path=path))
    results['frame_inds'] = np.array([0, 99])  # past the end
    with pytest.raises(BadSampleError, match='cannot decode frames'):
        DecordDecode()(results)
    assert 'video_reader' not in results


def test_decord_width_quirk(video_factory):
    path = str(video_factory('w48.mp4', size=(48, 40), num_frames=4))
    # The quirk itself: decord 0.6 pads rows to 64 pixels and reads the
    # 192-byte rows of a 48-pixel frame as 4 channels; get_batch fails.
    reader = decord.VideoReader(path)
    assert reader.next().shape == (40, 48, 4)
    with pytest.raises(decord.DECORDError, match='size must exactly match'):
        reader.get_batch([0])
    # DecordInit sees it and decodes at the multiple of 32 below instead.
    results = load(path, num_frames=2)
    assert results['original_shape'] == (40, 48)
    assert results['imgs'].shape == (2, 3, 27, 32)
    assert square_x(results['imgs'][0]) == 0


def test_bounded_decode_size_on_a_large_clip(video_factory):
    path = video_factory('big.mp4', size=(1280, 720), num_frames=4)
    results = load(path, num_frames=2, max_decode_size=256)
    assert results['original_shape'] == (720, 1280)
    t, c, h, w = results['imgs'].shape
    assert (t, c) == (2, 3)
    assert max(h, w) <= 256 and w % 32 == 0
    assert (h, w) == (144, 256) == results['img_shape']
    # Scaled, not cropped: the red square at frame 0 sits at x = 0.
    assert square_x(results['imgs'][0]) <= 1


def test_bounded_decode_portrait_keeps_aspect(video_factory):
    path = video_factory('tall.mp4', size=(360, 640), num_frames=2)
    results = load(path, num_frames=1, max_decode_size=256)
    h, w = results['img_shape']
    assert max(h, w) <= 256 and w % 32 == 0 and w >= 32
    assert w / h == pytest.approx(360 / 640, rel=0.02)


def test_within_bounds_decodes_at_native_size(video_factory):
    path = video_factory(size=(64, 48))
    results = load(path, max_decode_size=64)
    assert results['img_shape'] == (48, 64)


def test_fixed_decode_size(video_factory):
    path = video_factory(size=(64, 48))
    results = load(path, num_frames=2, decode_size=(96, 80))
    assert results['imgs'].shape == (2, 3, 80, 96)
    assert results['original_shape'] == (48, 64)


@pytest.mark.parametrize(
    'height, width, expected',
    [
        (720, 1280, (256, 144)),
        (1280, 720, (128, 228)),  # 720*256//1280 = 144 -> 128 wide
        (300, 300, (256, 256)),
        (10000, 100, (32, 256)),  # too narrow: width 32, height clamped
        (200, 256, None),  # within bounds: native size
    ])
def test_target_size(height, width, expected):
    init = DecordInit(max_decode_size=256)
    assert init.target_size(height, width) == expected


def test_target_size_for_a_width_decord_cannot_return():
    init = DecordInit(max_decode_size=256)
    assert init.target_size(40, 48, width_ok=False) == (32, 27)
    assert init.target_size(100, 72, width_ok=False) == (64, 89)
    assert init.target_size(30, 16, width_ok=False) == (32, 60)


def test_decord_init_validates_arguments():
    with pytest.raises(ValueError, match='multiple of 32'):
        DecordInit(decode_size=(48, 48))
    with pytest.raises(ValueError, match='at least 32'):
        DecordInit(max_decode_size=16)
    assert repr(DecordInit(decode_size=(288, 288))) == (
        'DecordInit(max_decode_size=1024, num_threads=None, '
        'decode_size=(288, 288))')


# ------------------------------------------------------------- SampleFrames
@pytest.mark.parametrize('strategy', ['uniform', 'nlvl_uniform'])
@pytest.mark.parametrize('vlen, num', [(16, 4), (10, 3), (7, 7), (100, 8),
                                       (3, 8), (1, 4)])
def test_uniform_is_floor_grid(strategy, vlen, num):
    inds = SampleFrames(num, strategy).sample(vlen)
    expected = [int(np.floor(i * vlen / num)) for i in range(num)]
    assert inds.dtype == np.int64
    assert inds.tolist() == expected
    # ALPRO's own expression, where float rounding does not bite.
    assert inds.tolist() == np.arange(0, vlen,
                                      vlen / num).astype(int)[:num].tolist()


def test_rand_sorted_distinct_in_range():
    np.random.seed(0)
    seen = set()
    for _ in range(50):
        inds = SampleFrames(8, 'rand').sample(20)
        assert inds.shape == (8, ) and inds.dtype == np.int64
        assert (np.diff(inds) > 0).all()  # sorted AND distinct
        assert inds.min() >= 0 and inds.max() < 20
        seen.add(tuple(inds))
    assert len(seen) > 40  # random, not a fixed pattern


def test_headtail_halves():
    np.random.seed(1)
    for vlen in (9, 20, 33):
        for _ in range(20):
            inds = SampleFrames(6, 'headtail').sample(vlen)
            head, tail = inds[:3], inds[3:]
            assert (np.diff(head) > 0).all() and (np.diff(tail) > 0).all()
            assert head.min() >= 0 and head.max() < vlen // 2
            assert tail.min() >= vlen // 2 and tail.max() < vlen


def test_nlvl_rand_one_per_segment():
    np.random.seed(2)
    vlen, num = 50, 8
    starts = np.arange(num) * vlen // num
    ends = np.append(starts[1:], vlen)
    offsets = set()
    for _ in range(50):
        inds = SampleFrames(num, 'nlvl_rand').sample(vlen)
        assert ((inds >= starts) & (inds < ends)).all()
        offsets.add(tuple(inds - starts))
    assert len(offsets) > 40


@pytest.mark.parametrize('strategy',
                         ['uniform', 'rand', 'nlvl_uniform', 'nlvl_rand'])
def test_short_video_repeats_in_order(strategy):
    np.random.seed(3)
    for _ in range(20):
        inds = SampleFrames(8, strategy).sample(3)
        assert len(inds) == 8
        assert (np.diff(inds) >= 0).all()
        assert inds.min() >= 0 and inds.max() < 3
        if strategy == 'rand':
            assert set(inds.tolist()) == {0, 1, 2}  # no frame dropped


def test_short_headtail_repeats_per_half():
    np.random.seed(4)
    for _ in range(20):
        inds = SampleFrames(8, 'headtail').sample(5)  # halves [0,2), [2,5)
        head, tail = inds[:4], inds[4:]
        assert sorted(set(head.tolist())) == [0, 1]
        assert (np.diff(head) >= 0).all()
        assert set(tail.tolist()) <= {2, 3, 4} and len(set(tail)) == 3
        assert (np.diff(tail) >= 0).all()


@pytest.mark.parametrize('strategy', SampleFrames.STRATEGIES)
def test_one_frame_video(strategy):
    num = 4
    inds = SampleFrames(num, strategy).sample(1)
    assert inds.tolist() == [0] * num


def test_test_mode_is_deterministic():
    for strategy in ('rand', 'nlvl_rand'):
        sampler = SampleFrames(5, strategy, test_mode=True)
        assert sampler.sample(17).tolist() == [0, 3, 6, 10, 13]
    sampler = SampleFrames(4, 'headtail', test_mode=True)
    # head: 0 + floor(i * 10 / 2); tail: 10 + floor(i * 11 / 2)
    assert sampler.sample(21).tolist() == [0, 5, 10, 15]


def test_seeding_controls_sampling():
    np.random.seed(7)
    first = SampleFrames(8, 'rand').sample(100)
    np.random.seed(7)
    assert SampleFrames(8, 'rand').sample(100).tolist() == first.tolist()


def test_zero_frames_is_a_bad_sample():
    with pytest.raises(BadSampleError) as info:
        SampleFrames(4)(dict(video_path='x.mp4', total_frames=0))
    assert info.value.path == 'x.mp4'


def test_sample_frames_validates_arguments():
    with pytest.raises(ValueError, match='even'):
        SampleFrames(3, 'headtail')
    with pytest.raises(ValueError, match='unknown strategy'):
        SampleFrames(3, 'middle')
    with pytest.raises(ValueError, match='num_frames'):
        SampleFrames(0)
    with pytest.raises(ValueError, match='num_clips'):
        SampleFrames(4, num_clips=0)
    assert repr(SampleFrames(4, 'headtail')) == (
        "SampleFrames(num_frames=4, strategy='headtail', test_mode=False, "
        'num_clips=1)')


def test_multi_clip_samples_each_segment():
    # 3 clips of 4 uniform frames over 30 frames: segments of 10
    out = SampleFrames(4, 'uniform', num_clips=3)(dict(total_frames=30))
    assert out['frame_inds'].tolist() == [
        0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27
    ]
    assert out['short_clip'] is False
    np.random.seed(0)
    for _ in range(20):
        inds = SampleFrames(
            2, 'rand', num_clips=4)(dict(total_frames=17))['frame_inds']
        assert len(inds) == 8
        bounds = [0, 4, 8, 12, 17]  # floor(k * 17 / 4)
        for k in range(4):
            clip = inds[2 * k:2 * k + 2]
            assert ((bounds[k] <= clip) & (clip < bounds[k + 1])).all()
    # fewer frames than clips: every index stays in the video, in order
    short = SampleFrames(2, 'uniform', num_clips=3)(dict(total_frames=2))
    assert short['frame_inds'].tolist() == [0, 0, 0, 0, 1, 1]
    assert short['short_clip'] is True


# ------------------------------------------------------------- DecordDecode
def test_decode_returns_exactly_the_sampled_frames(video_factory):
    path = video_factory(num_frames=16, size=(64, 48))
    results = DecordInit()(dict(video_path=path))
    results['frame_inds'] = np.array([1, 4, 9, 15])
    results = DecordDecode()(results)
    imgs = results['imgs']
    assert imgs.dtype == torch.uint8 and imgs.shape == (4, 3, 48, 64)
    assert imgs.is_contiguous()
    assert results['img_shape'] == (48, 64)
    assert 'video_reader' not in results
    reference = decord.VideoReader(str(path)).get_batch([1, 4, 9,
                                                         15]).asnumpy()
    assert torch.equal(imgs.permute(0, 2, 3, 1), torch.from_numpy(reference))
    # Frame i has its square at x = 2 * i (RGB red, not BGR).
    assert [square_x(f) for f in imgs] == [2, 8, 18, 30]


def test_short_clip_repeats_decoded_frames_in_order(bad_videos):
    np.random.seed(0)
    results = load(bad_videos['short'], num_frames=8, strategy='rand')
    inds = results['frame_inds'].tolist()
    assert sorted(inds) == inds and set(inds) == {0, 1}
    imgs = results['imgs']
    xs = [square_x(f) for f in imgs]
    assert xs == [2 * i for i in inds]
    first = inds.index(1)
    assert torch.equal(imgs[0], imgs[first - 1])
    assert not torch.equal(imgs[0], imgs[first])


def test_decode_out_of_range_is_a_bad_sample(video_factory):
    path = video_factory(num_frames=4)
    results = DecordInit()(dict(video_path=path))
    results['frame_inds'] = np.array([0, 9])
    with pytest.raises(BadSampleError, match='cannot decode frames'):
        DecordDecode()(results)


def test_pipeline_builds_from_the_registry(video_factory):
    path = video_factory(num_frames=12)
    pipeline = Compose([
        dict(type='alpro.DecordInit', max_decode_size=32),
        dict(type='alpro.SampleFrames', num_frames=3, strategy='uniform'),
        dict(type='alpro.DecordDecode'),
    ])
    results = pipeline(dict(video_path=str(path)))
    assert results['frame_inds'].tolist() == [0, 4, 8]
    assert results['img_shape'] == (24, 32)
    assert isinstance(
        TRANSFORMS.build(dict(type='DecordDecode')), DecordDecode)


# ---------------------------------------------------------- LoadImageAsClip
def write_image(path: Path, size=(40, 30)) -> Path:
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :width // 2] = (0, 0, 255)  # BGR red on the left half
    image[:, width // 2:] = (255, 0, 0)  # BGR blue on the right half
    assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize('suffix', ['.jpg', '.png'])
def test_image_as_clip(tmp_path, suffix):
    path = write_image(tmp_path / f'img{suffix}', size=(40, 30))
    results = LoadImageAsClip(num_frames=4)(dict(img_path=path))
    imgs = results['imgs']
    assert imgs.shape == (4, 3, 30, 40) and imgs.dtype == torch.uint8
    assert imgs.stride(0) == 0  # an expand, not a copy
    assert results['frame_inds'].tolist() == [0, 0, 0, 0]
    assert results['img_shape'] == results['original_shape'] == (30, 40)
    assert results['total_frames'] == 1
    r, g, b = imgs[0].float().mean(dim=(1, ))  # per column means
    assert r[:15].min() > 200 and b[:15].max() < 50  # RGB: red left
    assert b[25:].min() > 200 and r[25:].max() < 50


def test_large_image_is_shrunk(tmp_path):
    path = write_image(tmp_path / 'big.jpg', size=(600, 400))
    results = LoadImageAsClip(
        num_frames=2, max_decode_size=100)(
            dict(img_path=path))
    assert results['img_shape'] == (67, 100)
    assert results['original_shape'] == (400, 600)


@pytest.mark.parametrize('content, reason', [
    (None, 'file not found'),
    (b'', 'empty file'),
    (b'not an image at all' * 10, 'cannot decode image'),
    ('truncated', 'cannot decode image'),
])
def test_bad_images(tmp_path, content, reason):
    path = tmp_path / 'bad.jpg'
    if content == 'truncated':
        good = write_image(tmp_path / 'good.jpg', size=(64, 64)).read_bytes()
        path.write_bytes(good[:len(good) // 2])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(BadSampleError) as info:
        LoadImageAsClip(num_frames=2)(dict(img_path=path))
    assert info.value.path == str(path)
    assert info.value.reason.startswith(reason)


# ------------------------------------------- media in memory (from a shard)
@pytest.mark.parametrize('init_kwargs', [{}, dict(max_decode_size=32)])
def test_video_bytes_decode_as_the_file(video_factory, init_kwargs):
    # max_decode_size=32 re-opens the video at a bounded size: from the
    # bytes again
    path = video_factory(num_frames=16, size=(64, 48))
    from_file = load(path, **init_kwargs)
    results = dict(
        video_path='shard.tar/key.mp4', video_bytes=path.read_bytes())
    results = DecordInit(**init_kwargs)(results)
    assert 'video_bytes' not in results  # not held past opening
    results = DecordDecode()(SampleFrames(4, 'uniform')(results))
    assert torch.equal(results['imgs'], from_file['imgs'])
    assert results['total_frames'] == 16
    assert results['original_shape'] == (48, 64)


@pytest.mark.parametrize('data, reason', [
    (b'', 'empty file'),
    (b'\x00not a video' * 300, 'cannot open'),
    ('truncated', 'cannot open'),
])
def test_bad_video_bytes(video_factory, data, reason):
    if data == 'truncated':
        good = video_factory(num_frames=16).read_bytes()
        data = good[:len(good) // 2]
    with pytest.raises(BadSampleError) as info:
        DecordInit()(dict(video_path='s.tar/k.mp4', video_bytes=data))
    assert info.value.path == 's.tar/k.mp4'
    assert info.value.reason.startswith(reason)


@pytest.mark.parametrize('data, reason', [
    (b'', 'empty file'),
    (b'not an image at all' * 10, 'cannot decode image'),
])
def test_image_bytes(tmp_path, data, reason):
    path = write_image(tmp_path / 'img.jpg', size=(40, 30))
    clip = LoadImageAsClip(num_frames=2)
    from_bytes = clip(
        dict(img_path='s.tar/k.jpg', img_bytes=path.read_bytes()))
    assert torch.equal(from_bytes['imgs'], clip(dict(img_path=path))['imgs'])
    assert 'img_bytes' not in from_bytes
    with pytest.raises(BadSampleError) as info:
        clip(dict(img_path='s.tar/k.jpg', img_bytes=data))
    assert (info.value.path,
            info.value.reason[:len(reason)]) == ('s.tar/k.jpg', reason)
