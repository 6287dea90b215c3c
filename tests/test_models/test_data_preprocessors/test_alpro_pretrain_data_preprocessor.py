"""AlproPretrainDataPreprocessor: MLM masking and PEM regions."""
import math
import random

import pytest
import torch

from alpro.models.data_preprocessors import (AlproPretrainDataPreprocessor,
                                             VideoTextDataPreprocessor)
from alpro.models.data_preprocessors.alpro_pretrain_data_preprocessor import \
    fallback_box
from alpro.registry import MODELS
from alpro.structures import VideoTextDataSample

WORDS = ('a red green blue circle square moves left right up down the on '
         'over background').split()


def make_batch(texts, clips, images=()):
    samples = []
    for i, text in enumerate(texts):
        sample = VideoTextDataSample()
        sample.text = text
        if i in images:
            sample.set_metainfo(dict(img_path=f'img{i}.jpg'))
        else:
            sample.set_metainfo(dict(video_path=f'vid{i}.mp4'))
        samples.append(sample)
    return dict(inputs=clips, data_samples=samples)


def build(tokenizer_dir, **kwargs):
    kwargs.setdefault('max_length', 16)
    return AlproPretrainDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)), **kwargs)


def random_texts(num, min_words, max_words, seed=0):
    rng = random.Random(seed)
    return [
        ' '.join(rng.choices(WORDS, k=rng.randint(min_words, max_words)))
        for _ in range(num)
    ]


def clips(num, size=32, frames=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randint(
            0, 256, (frames, 3, size, size), dtype=torch.uint8, generator=gen)
        for _ in range(num)
    ]


# ----------------------------------------------------------------- MLM


def check_labels(ids, mask, mlm_ids, labels, special_ids):
    chosen = labels != -100
    special = torch.isin(ids, torch.tensor(special_ids))
    assert not (chosen & special).any(), 'a special token was chosen'
    assert not (chosen & ~mask.bool()).any(), 'padding was chosen'
    assert torch.equal(labels[chosen], ids[chosen])
    # what is not chosen is never changed
    assert torch.equal(mlm_ids[~chosen], ids[~chosen])
    return chosen


def test_mlm_through_forward(tokenizer_dir):
    torch.manual_seed(0)
    pre = build(tokenizer_dir, max_length=64, pem=None)
    # long captions, for many eligible tokens; some still padded
    texts = random_texts(64, 30, 70)
    out = pre(make_batch(texts, clips(64, size=4)))
    inputs = out['inputs']
    ids, mask = inputs['text_ids'], inputs['text_mask']
    mlm_ids, labels = inputs['mlm_text_ids'], inputs['mlm_labels']
    assert ids.shape == mask.shape == mlm_ids.shape == labels.shape == (64, 64)
    assert labels.dtype == mlm_ids.dtype == torch.long
    assert not mask.all(), 'the batch must hold padding'
    chosen = check_labels(ids, mask, mlm_ids, labels,
                          pre.tokenizer.all_special_ids)
    eligible = mask.bool() & ~torch.isin(
        ids, torch.tensor(pre.tokenizer.all_special_ids))
    rate = chosen.sum() / eligible.sum()
    # about 3000 eligible tokens: 0.025 is about 4 standard deviations
    assert abs(rate - 0.15) < 0.025, rate
    # the parent's text is left as it was
    assert pre.tokenizer.mask_token_id not in ids.tolist()


def test_mlm_split_80_10_10(tokenizer_dir):
    """On many tokens: 80% [MASK], 10% random non-special, 10% kept.

    About 5000 chosen tokens: the tolerances are over 4 standard
    deviations."""
    torch.manual_seed(0)
    pre = build(tokenizer_dir, pem=None)
    tok = pre.tokenizer
    special = sorted(set(tok.all_special_ids))
    ordinary = [i for i in range(len(tok)) if i not in special]
    gen = torch.Generator().manual_seed(1)
    ids = torch.tensor(ordinary)[torch.randint(
        len(ordinary), (1024, 64), generator=gen)]
    lengths = torch.randint(3, 65, (1024, 1), generator=gen)
    mask = (torch.arange(64) < lengths).long()
    ids[:, 0] = tok.cls_token_id
    ids[torch.arange(1024), lengths[:, 0] - 1] = tok.sep_token_id
    ids[mask == 0] = tok.pad_token_id
    mlm_ids, labels = pre.mask_text(ids, mask)
    chosen = check_labels(ids, mask, mlm_ids, labels, special)
    eligible = mask.bool() & ~torch.isin(ids, torch.tensor(special))
    n = chosen.sum()
    assert abs(n / eligible.sum() - 0.15) < 0.01
    masked = chosen & (mlm_ids == tok.mask_token_id)
    replaced = chosen & (mlm_ids != tok.mask_token_id) & (mlm_ids != ids)
    kept = chosen & (mlm_ids == ids)
    # a random token equals the original 1 time in len(ordinary)
    hit = 1 / len(ordinary)
    assert abs(masked.sum() / n - 0.8) < 0.025
    assert abs(replaced.sum() / n - 0.1 * (1 - hit)) < 0.02
    assert abs(kept.sum() / n - (0.1 + 0.1 * hit)) < 0.02
    # random tokens come from the non-special vocabulary only
    assert torch.isin(mlm_ids[replaced], torch.tensor(ordinary)).all()
    assert not torch.isin(mlm_ids[chosen & ~masked],
                          torch.tensor(special)).any()


def test_mlm_disabled(tokenizer_dir):
    pre = build(tokenizer_dir, mlm_probability=0, pem=None)
    out = pre(make_batch(['a red circle'], clips(1, size=4)))
    assert 'mlm_text_ids' not in out['inputs']
    assert 'mlm_labels' not in out['inputs']
    with pytest.raises(ValueError, match='mlm_probability'):
        build(tokenizer_dir, mlm_probability=1.5)


# ----------------------------------------------------------------- PEM


def check_guarantees(boxes,
                     height,
                     width,
                     p,
                     area=(0.3, 0.5),
                     aspect=(0.3, 1 / 0.3)):
    """What ALPRO's sampling and the rounding down guarantee."""
    top, left, h, w = boxes.double().unbind(dim=1)
    for v in (top, left, h, w):
        assert (v % p == 0).all(), 'not patch-aligned'
    assert (h >= p).all() and (w >= p).all(), 'empty box'
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= height).all() and (left + w <= width).all()
    frame = height * width
    assert (h * w <= area[1] * frame + 1e-6).all()
    # rounding down removes less than p from h and w
    assert ((h + p) * (w + p) > area[0] * frame).all()
    assert ((h + p) / w > aspect[0]).all()
    assert ((w + p) / h > 1 / aspect[1]).all()


def test_boxes_guarantees_and_spread(tokenizer_dir):
    torch.manual_seed(0)
    pre = build(tokenizer_dir)
    boxes = pre.sample_boxes(4096, 224, 224)
    assert boxes.shape == (4096, 4) and boxes.dtype == torch.long
    check_guarantees(boxes, 224, 224, 16)
    top, left, h, w = boxes.unbind(dim=1)
    area = (h * w).double() / 224**2
    # the bulk of the mass sits in ALPRO's [0.3, 0.5]; rounding shrinks some
    assert 0.25 < area.mean() < 0.45
    assert len({tuple(b) for b in boxes.tolist()}) > 100
    # every corner of the frame is reached
    assert top.min() == 0 and left.min() == 0
    assert (top + h).max() == 224 and (left + w).max() == 224


def alpro_box(rng, height, width, p, area=(0.3, 0.5), aspect=(0.3, 1 / 0.3)):
    """ALPRO's host-side rejection loop, one sample, as the paper's code
    describes it (empty boxes rejected, as ours)."""
    while True:
        s = rng.uniform(*area) * height * width
        r = rng.uniform(*aspect)
        w, h = int(math.sqrt(s / r)), int(math.sqrt(s * r))
        left, top = rng.randrange(width), rng.randrange(height)
        w, h, left, top = (v - v % p for v in (w, h, left, top))
        if h and w and left + w <= width and top + h <= height:
            return top, left, h, w


def test_boxes_match_alpro_distribution(tokenizer_dir):
    """Means of top, left, h, w agree with ALPRO's loop within ~4 s.e."""
    rng = random.Random(0)
    theirs = torch.tensor([alpro_box(rng, 224, 224, 16)
                           for _ in range(4000)]).double()
    torch.manual_seed(0)
    pre = build(tokenizer_dir)
    proposals, valid = pre.propose_boxes(8000, 224, 224)
    # the default candidates make the fallback negligible
    assert (~valid.any(dim=1)).double().mean() < 1e-3
    ours = pre.select_boxes(proposals, valid, 224, 224).double()
    se = (theirs.var(0) / 4000 + ours.var(0) / 8000).sqrt()
    assert ((ours.mean(0) - theirs.mean(0)).abs()
            < 4 * se + 1e-6).all(), (ours.mean(0), theirs.mean(0), se)


def test_boxes_deterministic_under_seed(tokenizer_dir):
    pre = build(tokenizer_dir)
    torch.manual_seed(3)
    first = pre.sample_boxes(16, 64, 96)
    torch.manual_seed(3)
    assert torch.equal(first, pre.sample_boxes(16, 64, 96))
    # non-square frames
    pre = build(tokenizer_dir, pem=dict(patch_size=8))
    torch.manual_seed(4)
    check_guarantees(pre.sample_boxes(1024, 64, 96), 64, 96, 8)


def test_fallback_when_no_proposal_is_valid(tokenizer_dir):
    pre = build(tokenizer_dir, pem=dict(candidates=1))
    torch.manual_seed(0)
    proposals, valid = pre.propose_boxes(512, 224, 224)
    torch.manual_seed(0)
    boxes = pre.sample_boxes(512, 224, 224)
    # one proposal each: some are out of the frame
    assert valid.shape == (512, 1)
    assert valid.any() and not valid.all()
    fallback = torch.tensor(
        fallback_box(224, 224, 16, (0.3, 0.5), (0.3, 1 / 0.3)))
    expected = torch.where(valid, proposals[:, 0], fallback)
    assert torch.equal(boxes, expected)
    check_guarantees(boxes, 224, 224, 16)


def test_first_valid_proposal_is_kept(tokenizer_dir):
    pre = build(tokenizer_dir, pem=dict(candidates=4))
    proposals = torch.arange(3 * 4 * 4).view(3, 4, 4) * 16
    valid = torch.tensor([[False, True, True, False],
                          [True, False, False, False],
                          [False, False, False, False]])
    boxes = pre.select_boxes(proposals, valid, 224, 224)
    assert boxes[0].tolist() == proposals[0, 1].tolist()
    assert boxes[1].tolist() == proposals[1, 0].tolist()
    assert boxes[2].tolist() == list(
        fallback_box(224, 224, 16, (0.3, 0.5), (0.3, 1 / 0.3)))


def test_fallback_box_by_hand():
    # 2x2 patches: the largest within half the frame is 1x2 or 2x1
    # patches, equally square; the taller wins; centred (rounded down)
    assert fallback_box(32, 32, 16, (0.3, 0.5),
                        (0.3, 1 / 0.3)) == (0, 0, 32, 16)
    # 14x14 patches: area <= 98 patches; 7x14 / 14x7 hold exactly 98
    top, left, h, w = fallback_box(224, 224, 16, (0.3, 0.5), (0.3, 1 / 0.3))
    assert (h, w) == (224, 112) and (top, left) == (0, 48)
    # one patch when nothing meets the bounds
    assert fallback_box(16, 16, 16, (0.3, 0.5),
                        (0.3, 1 / 0.3)) == (0, 0, 16, 16)
    for size in ((64, 96), (224, 224), (96, 32)):
        box = torch.tensor(
            [fallback_box(*size, 16, (0.3, 0.5), (0.3, 1 / 0.3))])
        check_guarantees(box, *size, 16)


def test_crop_region_and_box_agree(tokenizer_dir):
    torch.manual_seed(0)
    p, size = 8, 48
    pre = build(tokenizer_dir, pem=dict(patch_size=p))
    raw = clips(6, size=size, frames=3)
    out = pre(make_batch(random_texts(6, 2, 5), raw))
    inputs = out['inputs']
    video, crop = inputs['video'], inputs['pem_crop']
    region, boxes = inputs['pem_region'], inputs['pem_box']
    n = (size // p)**2
    assert crop.shape == video.shape == (6, 3, 3, size, size)
    assert crop.dtype == video.dtype
    assert region.shape == (6, n) and region.dtype == torch.bool
    assert boxes.shape == (6, 4) and boxes.dtype == torch.long
    check_guarantees(boxes, size, size, p)
    assert len({tuple(b) for b in boxes.tolist()}) > 1
    mean = pre.mean.view(3, 1, 1, 1)
    std = pre.std.view(3, 1, 1, 1)
    for i, (top, left, h, w) in enumerate(boxes.tolist()):
        # the raw clip blacked out outside the box, then normalised
        keep = torch.zeros(size, size)
        keep[top:top + h, left:left + w] = 1
        blacked = raw[i].permute(1, 0, 2, 3).float() * keep
        torch.testing.assert_close(crop[i], (blacked - mean) / std)
        inside = keep.bool().expand_as(crop[i])
        assert torch.equal(crop[i][inside], video[i][inside])
        # the patch grid of the box, row-major
        grid = torch.zeros(size // p, size // p, dtype=torch.bool)
        grid[top // p:(top + h) // p, left // p:(left + w) // p] = True
        assert torch.equal(region[i], grid.flatten())
        assert region[i].sum() == h * w // p**2


def test_region_follows_row_major_tokens(tokenizer_dir):
    """A box in the top-right corner of a 3x4 grid: patches 2, 3, 6, 7."""
    pre = build(tokenizer_dir, pem=dict(patch_size=8))
    boxes = torch.tensor([[0, 16, 16, 16]])
    pixels, patches = pre.box_masks(boxes, 24, 32)
    assert patches[0].nonzero().flatten().tolist() == [2, 3, 6, 7]
    assert pixels.shape == (1, 24, 32) and pixels[0].sum() == 256


def test_keys_is_image_and_dropped_samples(tokenizer_dir):
    torch.manual_seed(0)
    pre = build(tokenizer_dir, pem=dict(patch_size=8))
    raw = clips(4, size=16)
    batch = make_batch(['red', 'blue', 'green', 'the circle'],
                       [raw[0], None, raw[2], raw[3]],
                       images=(1, 2))
    out = pre(batch)
    inputs = out['inputs']
    assert set(inputs) == {
        'video', 'text_ids', 'text_mask', 'is_image', 'mlm_text_ids',
        'mlm_labels', 'pem_crop', 'pem_region', 'pem_box'
    }
    assert [s.text
            for s in out['data_samples']] == ['red', 'green', 'the circle']
    assert inputs['is_image'].tolist() == [False, True, False]
    for key in ('mlm_text_ids', 'mlm_labels', 'pem_crop', 'pem_region',
                'pem_box'):
        assert inputs[key].shape[0] == 3, key
    # the parent's outputs are unchanged
    parent = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)), max_length=16)
    reference = parent(batch)['inputs']
    for key in ('video', 'text_ids', 'text_mask'):
        assert torch.equal(inputs[key], reference[key]), key


def test_disabled_parts_and_errors(tokenizer_dir):
    pre = build(tokenizer_dir, mlm_probability=0, pem=None)
    inputs = pre(make_batch(['red'], clips(1, size=5)))['inputs']
    assert set(inputs) == {'video', 'text_ids', 'text_mask', 'is_image'}
    pre = build(tokenizer_dir, pem=dict(patch_size=16))
    with pytest.raises(ValueError, match=r'40x40.*patch_size=16'):
        pre(make_batch(['red'], clips(1, size=40)))
    with pytest.raises(KeyError, match='patch'):
        build(tokenizer_dir, pem=dict(patch=16))
    with pytest.raises(ValueError, match='area'):
        build(tokenizer_dir, pem=dict(area=(0.5, 0.3)))


def test_registry_build(tokenizer_dir):
    pre = MODELS.build(
        dict(
            type='AlproPretrainDataPreprocessor',
            tokenizer=dict(path=str(tokenizer_dir)),
            pem=dict(patch_size=8, candidates=8)))
    assert isinstance(pre, AlproPretrainDataPreprocessor)
    assert pre.pem['candidates'] == 8 and pre.pem['area'] == (0.3, 0.5)
    # buffers are not checkpointed
    assert not {'special_ids', 'ordinary_ids'} & set(pre.state_dict())
    assert math.isclose(pre.mlm_probability, 0.15)


def test_no_value_is_read_on_the_host(tokenizer_dir):
    """Meta tensors hold no values: masking and regions run on them only
    if nothing is read back from the device (no .item(), no nonzero)."""
    pre = build(tokenizer_dir).to('meta')
    ids = torch.zeros(4, 8, dtype=torch.long, device='meta')
    mlm_ids, labels = pre.mask_text(ids, torch.ones_like(ids))
    assert mlm_ids.device.type == labels.device.type == 'meta'
    boxes = pre.sample_boxes(4, 64, 64)
    pixels, patches = pre.box_masks(boxes, 64, 64)
    assert boxes.shape == (4, 4) and boxes.device.type == 'meta'
    assert pixels.shape == (4, 64, 64) and patches.shape == (4, 16)


@pytest.mark.parametrize('settings', [
    dict(),
    dict(mlm_probability=0),
    dict(pem=None),
    dict(mlm_probability=0, pem=None),
])
def test_input_keys_are_the_keys_it_makes(tokenizer_dir, settings):
    # what AlproPretrainer checks its tasks against when it is built
    pre = build(tokenizer_dir, **settings)
    out = pre(make_batch(['a red circle moves', 'the square'], clips(2)), True)
    keys = set(out['inputs']) - {'video_group'}
    assert keys == set(pre.input_keys)
    assert ('mlm_labels' in keys) == (settings.get('mlm_probability') != 0)
    assert ('pem_region' in keys) == ('pem' not in settings)
