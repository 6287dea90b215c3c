"""VideoTextDataPreprocessor: stacking, normalising, tokenising."""
import pytest
import torch

from alpro.models.data_preprocessors import (CLIP_MEAN, CLIP_STD,
                                             VideoTextDataPreprocessor)
from alpro.structures import VideoTextDataSample


def make_batch(texts, clips):
    samples = []
    for text in texts:
        sample = VideoTextDataSample()
        sample.text = text
        samples.append(sample)
    return dict(inputs=clips, data_samples=samples)


def test_normalise_and_layout(tokenizer_dir):
    pre = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)), max_length=8)
    clips = [
        torch.randint(0, 256, (4, 3, 6, 5), dtype=torch.uint8)
        for _ in range(2)
    ]
    out = pre(make_batch(['a red circle', 'the blue square moves'], clips))
    video = out['inputs']['video']
    assert video.shape == (2, 3, 4, 6, 5)  # (B, C, T, H, W)
    assert video.dtype == torch.float32 and video.is_contiguous()
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1, 1)
    expected = (clips[1].permute(1, 0, 2, 3).float() - mean) / std
    torch.testing.assert_close(video[1], expected)


def test_tokenise_with_padding_and_truncation(tokenizer_dir):
    pre = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)), max_length=6)
    clip = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    out = pre(
        make_batch(['red circle', 'a red green blue circle moves left right'],
                   [clip, clip]))
    ids, mask = out['inputs']['text_ids'], out['inputs']['text_mask']
    tok = pre.tokenizer
    assert tok.unk_token_id not in ids.tolist()[0]
    assert ids.shape == mask.shape == (2, 6)
    # [CLS] red circle [SEP] [PAD] [PAD]
    assert ids[0].tolist()[:4] == [
        tok.cls_token_id,
        tok.convert_tokens_to_ids('red'),
        tok.convert_tokens_to_ids('circle'), tok.sep_token_id
    ]
    assert mask[0].tolist() == [1, 1, 1, 1, 0, 0]
    assert ids[0, 4:].tolist() == [tok.pad_token_id] * 2
    # truncated to max_length, still closed by [SEP]
    assert mask[1].tolist() == [1] * 6 and ids[1, -1] == tok.sep_token_id

    longest = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)),
        max_length=32,
        padding='longest')
    out = longest(make_batch(['red', 'red circle'], [clip, clip]))
    assert out['inputs']['text_ids'].shape == (2, 4)


def test_left_out_samples_are_dropped(tokenizer_dir):
    pre = VideoTextDataPreprocessor(tokenizer=dict(path=str(tokenizer_dir)))
    clip = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    batch = make_batch(['red', 'blue', 'green'], [clip, None, clip])
    out = pre(batch)
    assert out['inputs']['video'].shape[0] == 2
    assert [s.text for s in out['data_samples']] == ['red', 'green']


def test_missing_tokenizer_says_how_to_get_it(tmp_path):
    pre = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tmp_path / 'nope')))
    # read at the first batch, not when the model is built
    with pytest.raises(
            FileNotFoundError, match=r"'.*nope' not found.*make_demo_data"):
        pre.tokenize(['a caption'])


def test_mean_std_move_with_the_module(tokenizer_dir):
    pre = VideoTextDataPreprocessor(tokenizer=dict(path=str(tokenizer_dir)))
    assert 'mean' not in pre.state_dict()  # not persistent: not in checkpoints
    pre.to(torch.float64)
    assert pre.mean.dtype == torch.float64


def test_input_keys_are_the_keys_it_makes(tokenizer_dir):
    pre = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)), max_length=8)
    clip = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    out = pre(make_batch(['a red circle'], [clip]))
    assert set(out['inputs']) == set(pre.input_keys)


def test_a_video_only_batch_has_no_text_keys(tokenizer_dir):
    pre = VideoTextDataPreprocessor(
        tokenizer=dict(path=str(tokenizer_dir)), max_length=6)
    clips = [torch.zeros(2, 3, 4, 4, dtype=torch.uint8)] * 2
    samples = [VideoTextDataSample(), VideoTextDataSample()]
    out = pre(dict(inputs=clips, data_samples=samples))
    assert set(out['inputs']) == {'video'}
    samples[0].text = 'a red circle'
    with pytest.raises(ValueError, match='1 of 2 samples of the batch have'):
        pre(dict(inputs=clips, data_samples=samples))
