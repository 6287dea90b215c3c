"""Processing transforms on (T, C, H, W) uint8 clips."""
import math

import cv2
import numpy as np
import pytest
import torch

from alpro.datasets.transforms import (ALPRO_RANDAUG_OPS, CenterCrop, Flip,
                                       RandomCrop, RandomResizedCrop, Resize,
                                       TemporalConsistentRandAugment)


def make_clip(t=4, h=24, w=32, seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(
        0, 256, (t, 3, h, w), dtype=torch.uint8, generator=gen)


def same_frames(t=4, h=24, w=32, seed=0) -> torch.Tensor:
    """A clip of identical frames, as a stride-0 expand (LoadImageAsClip)."""
    return make_clip(1, h, w, seed).expand(t, -1, -1, -1)


def run(transform, imgs):
    return transform(dict(imgs=imgs, img_shape=tuple(imgs.shape[-2:])))


def all_frames_equal(imgs: torch.Tensor) -> bool:
    return all(torch.equal(imgs[0], frame) for frame in imgs[1:])


# ------------------------------------------------------------------- Resize
@pytest.mark.parametrize(
    'kwargs, shape',
    [
        (dict(scale=(20, 10)), (10, 20)),
        (dict(scale=12, keep_ratio=True), (12, 16)),  # short side 12
        (dict(scale=(16, 16), keep_ratio=True), (12, 16)),  # fit in 16x16
        (dict(scale=(64, 30), keep_ratio=True), (30, 40)),  # fit, height-bound
        (dict(scale=(10, 10), interpolation='bicubic'), (10, 10)),
        (dict(scale=(10, 10), interpolation='nearest'), (10, 10)),
    ])
def test_resize_shapes(kwargs, shape):
    results = run(Resize(**kwargs), make_clip(h=24, w=32))
    assert results['imgs'].shape == (4, 3) + shape
    assert results['imgs'].dtype == torch.uint8
    assert results['img_shape'] == shape


def test_resize_values():
    imgs = torch.zeros(2, 3, 24, 32, dtype=torch.uint8)
    imgs[..., 16:] = 200  # dark left half, bright right half
    out = run(Resize(scale=(16, 12)), imgs)['imgs']
    assert out[..., :7].max() == 0 and out[..., 9:].min() == 200
    # A whole-clip op: every frame as the same frame alone would be.
    clip = make_clip()
    batch = run(Resize(scale=(13, 9)), clip)['imgs']
    single = run(Resize(scale=(13, 9)), clip[2:3])['imgs']
    assert torch.equal(batch[2:3], single)


def test_resize_errors_and_repr():
    with pytest.raises(ValueError, match='keep_ratio=True'):
        Resize(scale=224)
    with pytest.raises(ValueError, match='interpolation'):
        Resize(scale=(8, 8), interpolation='area')
    assert repr(Resize(scale=(8, 6))) == (
        "Resize(scale=(8, 6), keep_ratio=False, interpolation='bilinear')")


# -------------------------------------------------------------------- crops
def test_random_crop_same_window_for_all_frames():
    clip = make_clip(h=24, w=32)
    np.random.seed(0)
    boxes = set()
    for _ in range(20):
        results = run(RandomCrop((10, 12)), clip)
        x1, y1, x2, y2 = results['crop_bbox']
        assert (y2 - y1, x2 - x1) == (10, 12)
        assert torch.equal(results['imgs'], clip[:, :, y1:y2, x1:x2])
        assert results['img_shape'] == (10, 12)
        boxes.add((x1, y1))
    assert len(boxes) > 5


def test_random_crop_whole_frame_and_too_large():
    clip = make_clip(h=24, w=32)
    assert torch.equal(run(RandomCrop((24, 32)), clip)['imgs'], clip)
    with pytest.raises(ValueError, match=r'\(30, 30\).*\(24, 32\)'):
        run(RandomCrop(30), clip)


def test_center_crop():
    clip = make_clip(h=24, w=32)
    results = run(CenterCrop((10, 20)), clip)
    assert torch.equal(results['imgs'], clip[:, :, 7:17, 6:26])
    assert results['crop_bbox'] == (6, 7, 26, 17)
    with pytest.raises(ValueError, match='larger than the frame'):
        run(CenterCrop(25), clip)
    assert repr(CenterCrop(8)) == 'CenterCrop(size=(8, 8))'


def test_random_resized_crop():
    clip = make_clip(h=40, w=60)
    np.random.seed(0)
    transform = RandomResizedCrop(16, scale=(0.2, 1.0))
    for _ in range(20):
        results = run(transform, clip)
        assert results['imgs'].shape == (4, 3, 16, 16)
        assert results['img_shape'] == (16, 16)
        x1, y1, x2, y2 = results['crop_bbox']
        assert 0 <= x1 < x2 <= 60 and 0 <= y1 < y2 <= 40
        area = (x2 - x1) * (y2 - y1) / (40 * 60)
        assert 0.18 <= area <= 1.0
        assert 0.7 <= (x2 - x1) / (y2 - y1) <= 1.4
    # The same crop for every frame.
    out = run(transform, same_frames(h=40, w=60))['imgs']
    assert all_frames_equal(out)


def test_random_resized_crop_fallback_is_central():
    # No draw of at least 90% area fits a 4:3 ratio into a 4x400 strip.
    transform = RandomResizedCrop((8, 8), scale=(0.9, 1.0))
    results = run(transform, make_clip(h=4, w=400))
    assert results['crop_bbox'] == (197, 0, 202, 4)  # w = round(4 * 4/3)


# --------------------------------------------------------------------- Flip
def test_flip():
    clip = make_clip()
    results = run(Flip(flip_ratio=1.0), clip)
    assert results['flip'] is True
    assert torch.equal(results['imgs'], clip.flip(-1))
    results = run(Flip(flip_ratio=1.0, direction='vertical'), clip)
    assert torch.equal(results['imgs'], clip.flip(-2))
    results = run(Flip(flip_ratio=0.0), clip)
    assert results['flip'] is False and torch.equal(results['imgs'], clip)
    np.random.seed(0)
    flips = [run(Flip(0.5), clip)['flip'] for _ in range(40)]
    assert 5 < sum(flips) < 35
    with pytest.raises(ValueError):
        Flip(flip_ratio=1.5)
    assert repr(Flip()) == "Flip(flip_ratio=0.5, direction='horizontal')"


# -------------------------------------------------------------- RandAugment
@pytest.mark.parametrize('name', ALPRO_RANDAUG_OPS)
def test_randaug_op_is_temporally_consistent(name):
    clip = same_frames(t=4, h=24, w=32)
    transform = TemporalConsistentRandAugment(
        num_ops=1, magnitude=9, ops=[name], random_sign=True)
    np.random.seed(0)
    results = run(transform, clip)
    out = results['imgs']
    assert results['randaug_ops'] == [name]
    assert out.shape == clip.shape and out.dtype == torch.uint8
    assert all_frames_equal(out)
    # At magnitude 9 every op but Identity changes the frames.
    assert torch.equal(out, clip) == (name == 'Identity')


def test_randaug_same_parameters_with_random_sign():
    # With random signs, one draw per clip, never one per frame.
    clip = same_frames(t=6)
    transform = TemporalConsistentRandAugment(
        num_ops=3, magnitude=10, random_sign=True)
    np.random.seed(1)
    for _ in range(10):
        assert all_frames_equal(run(transform, clip)['imgs'])


def test_randaug_draws_distinct_ops():
    np.random.seed(0)
    transform = TemporalConsistentRandAugment(num_ops=2)
    pairs = set()
    for _ in range(60):
        names = run(transform, make_clip(t=2))['randaug_ops']
        assert len(names) == 2 and names[0] != names[1]
        pairs.add(tuple(names))
    assert len(pairs) > 20
    every = TemporalConsistentRandAugment(num_ops=10)
    assert sorted(run(
        every, make_clip(t=2))['randaug_ops']) == sorted(ALPRO_RANDAUG_OPS)


@pytest.mark.parametrize('name', ['Contrast', 'Brightness', 'Sharpness'])
def test_magnitude_5_enhance_ops_are_no_ops(name):
    clip = make_clip()
    transform = TemporalConsistentRandAugment(
        num_ops=1, magnitude=5, ops=[name])
    assert transform.enhance_factor() == pytest.approx(1.0)
    assert torch.equal(run(transform, clip)['imgs'], clip)


def test_randaug_arguments_follow_alpro():
    transform = TemporalConsistentRandAugment(magnitude=5)
    assert transform.shear_factor() == pytest.approx(0.15)
    assert transform.translate_pixels() == pytest.approx(5)
    assert transform.rotate_degrees() == pytest.approx(15)
    assert TemporalConsistentRandAugment(
        magnitude=10).enhance_factor() == pytest.approx(1.9)


def smooth_image(h=40, w=50) -> np.ndarray:
    """(H, W, 3) uint8 with gentle gradients, so bilinear sampling agrees."""
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


def alpro_reference(name: str, image: np.ndarray, magnitude: int = 8):
    """ALPRO's OpenCV matrices for the geometric ops."""
    h, w = image.shape[:2]
    level = magnitude / 10
    factor, offset = level * 0.3, level * 10
    matrices = {
        'ShearX': [[1, factor, 0], [0, 1, 0]],
        'ShearY': [[1, 0, 0], [factor, 1, 0]],
        'TranslateX': [[1, 0, -offset], [0, 1, 0]],
        'TranslateY': [[1, 0, 0], [0, 1, -offset]],
        # About the true centre (ALPRO's (W/2, H/2) is half a pixel off).
        'Rotate':
        cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), level * 30, 1),
    }
    return cv2.warpAffine(
        image,
        np.float32(matrices[name]), (w, h),
        flags=cv2.INTER_LINEAR,
        borderValue=(128, 128, 128))


@pytest.mark.parametrize(
    'name', ['ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate'])
def test_geometric_ops_match_alpro_opencv(name):
    image = smooth_image()
    clip = torch.from_numpy(image).permute(2, 0, 1)[None]
    transform = TemporalConsistentRandAugment(
        num_ops=1, magnitude=8, ops=[name])
    out = run(transform, clip)['imgs'][0].permute(1, 2, 0).numpy()
    diff = np.abs(out.astype(int) - alpro_reference(name, image))
    # Borders blend the fill differently; the bulk must agree.
    assert np.median(diff) <= 1 and diff.mean() < 3
    assert (diff <= 2).mean() > 0.95


def test_random_sign_moves_both_ways():
    image = np.zeros((10, 40, 3), np.uint8)
    image[:, 20] = 255
    clip = torch.from_numpy(image).permute(2, 0, 1)[None]
    transform = TemporalConsistentRandAugment(
        num_ops=1, magnitude=10, ops=['TranslateX'], random_sign=True)
    np.random.seed(0)
    columns = set()
    for _ in range(20):
        out = run(transform, clip)['imgs'][0, 0, 5]
        columns.add(int(out.argmax()))
    assert columns == {10, 30}
    alpro = TemporalConsistentRandAugment(
        num_ops=1, magnitude=10, ops=['TranslateX'])
    assert int(run(alpro, clip)['imgs'][0, 0, 5].argmax()) == 10


def test_randaug_errors_and_repr():
    with pytest.raises(ValueError, match='Rotate') as info:
        TemporalConsistentRandAugment(ops=['Rotate', 'Solarize'])
    assert 'Solarize' in str(info.value)
    with pytest.raises(ValueError, match='num_ops'):
        TemporalConsistentRandAugment(num_ops=3, ops=['Rotate', 'ShearX'])
    with pytest.raises(ValueError, match='magnitude'):
        TemporalConsistentRandAugment(magnitude=11)
    assert repr(TemporalConsistentRandAugment(ops=['Rotate'], num_ops=1)) == (
        "TemporalConsistentRandAugment(num_ops=1, magnitude=5, "
        "ops=['Rotate'], fill=128, max_level=10, random_sign=False)")


def test_every_op_accepts_an_expanded_clip():
    # LoadImageAsClip hands on a stride-0 expand; no op may write into it.
    clip = same_frames(t=3, h=30, w=40)
    kept = clip.clone()
    np.random.seed(0)
    for transform in [
            Resize(scale=(20, 16)),
            RandomCrop(16),
            CenterCrop(16),
            RandomResizedCrop(16),
            Flip(1.0),
            TemporalConsistentRandAugment(num_ops=10, magnitude=9),
    ]:
        out = run(transform, clip)['imgs']
        assert all_frames_equal(out), transform
    assert torch.equal(clip, kept)


def test_rotate_degrees_are_counter_clockwise():
    # A dot 8 pixels right of the centre, rotated 30 degrees (magnitude 10)
    # counter-clockwise on screen, moves up: y is down in an image.
    image = torch.zeros(1, 3, 21, 21, dtype=torch.uint8)
    image[..., 10, 18] = 255
    transform = TemporalConsistentRandAugment(
        num_ops=1, magnitude=10, ops=['Rotate'])
    assert transform.rotate_degrees() == 30
    out = run(transform, image)['imgs'][0, 0]
    y, x = np.unravel_index(int(out.argmax()), tuple(out.shape))
    assert (x, y) == (10 + round(8 * math.cos(math.pi / 6)),
                      10 - round(8 * math.sin(math.pi / 6)))
