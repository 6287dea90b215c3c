"""benchmark_retrieval.py on the demo corpus: the original ALPRO protocol
and exact ranking agree, top-K equals a reference ranking, and the pass
counts are those of each protocol; offline, a synthetic split of the
preprocessor's shapes and random weights, with no file read."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from alpro.evaluation.metrics.retrieval_metric import retrieval_metrics
from tests.tool_modules import load_tool
from tests.tool_runs import save_random_model

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'tests/data/configs/retrieval_eval.py'
DEMO_CONFIG = REPO / 'configs/demo/finetune_msrvtt_ret.py'
benchmark_retrieval = load_tool('tools/analysis/benchmark_retrieval.py')


@pytest.fixture
def in_demo(demo_corpus, tmp_path, monkeypatch):
    """cwd in the demo corpus, and a random-init checkpoint."""
    checkpoint = tmp_path / 'model.pth'
    save_random_model(CONFIG, demo_corpus, checkpoint, seed=5)
    monkeypatch.chdir(demo_corpus)
    return checkpoint


def test_protocols_agree_and_count_passes(in_demo, capsys):
    text_batch, k = 3, 2
    result = benchmark_retrieval.main([
        str(CONFIG),
        str(in_demo), '--rerank-k',
        str(k), '--original-text-batch',
        str(text_batch), '--device', 'cpu'
    ])
    out = capsys.readouterr().out
    assert 'exact vs original metrics: MATCH' in out
    assert result['match']
    num_videos, num_texts = result['num_videos'], result['num_texts']
    assert num_videos > k and num_texts > text_batch
    original, exact, topk = (result[p] for p in ('original', 'exact', 'topk'))
    for key, value in exact['metrics'].items():
        assert abs(original['metrics'][key] - value) <= 1e-4, key

    # the original protocol encodes every video once per caption batch
    assert original['videos'] == num_videos * math.ceil(num_texts / text_batch)
    assert original['texts'] == num_texts
    assert original['pairs'] == num_texts * num_videos
    # ours encodes each video and caption once
    assert exact['videos'] == topk['videos'] == num_videos
    assert exact['texts'] == topk['texts'] == num_texts
    assert exact['pairs'] == num_texts * num_videos
    assert topk['pairs'] == num_texts * k

    # top-K equals a reference: the whole split encoded in one batch and
    # ranked by the model at K
    cfg = Config.fromfile(CONFIG)
    model = benchmark_retrieval.build_model(cfg, str(in_demo), 'cpu')
    with DefaultScope.overwrite_default_scope('alpro'):
        split = benchmark_retrieval.decode_split(cfg, model)
    with torch.no_grad():
        video, video_feat = model.encode_video(split['video'])
        text, text_feat = model.encode_text(split['text_ids'],
                                            split['text_mask'])
        scores = model.rank(
            video,
            video_feat,
            text,
            split['text_mask'],
            text_feat,
            rerank_k=k,
            score='vtm_prob')
    expected = retrieval_metrics(scores, split['text_to_video'])
    for key, value in expected.items():
        assert abs(topk['metrics'][key] - value) <= 1e-4, key
    assert 'topk(K=2)' in out  # the table's row


def test_mismatch_exits_non_zero(in_demo, monkeypatch):
    real = benchmark_retrieval.run_original

    def shuffled(*args, **kwargs):
        scores = real(*args, **kwargs)
        return scores.roll(1, dims=1)

    monkeypatch.setattr(benchmark_retrieval, 'run_original', shuffled)
    with pytest.raises(SystemExit) as exit_info:
        benchmark_retrieval.main([
            str(CONFIG),
            str(in_demo), '--protocols', 'original', 'exact', '--device', 'cpu'
        ])
    assert exit_info.value.code == 1


def test_synthetic_split_has_the_preprocessor_shapes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/demo: nothing of the config's
    cfg = Config.fromfile(DEMO_CONFIG)
    model = benchmark_retrieval.build_model(cfg, 'random', 'cpu')
    preprocessor = model.data_preprocessor
    tokenizer = preprocessor.tokenizer
    shape = benchmark_retrieval.split_clip_shape(cfg)
    assert shape == (8, 64, 64)  # the test pipeline's 8 frames, 64 px
    split = benchmark_retrieval.synthetic_split(
        preprocessor, shape, num_videos=3, captions_per_video=2, seed=1)

    video = split['video']
    assert video.shape == (3, 3, 8, 64, 64) and video.dtype == torch.float32
    # normalised 0-255 pixels: undoing the normalisation gives integers
    pixels = video * preprocessor.std + preprocessor.mean
    assert torch.allclose(pixels, pixels.round(), atol=1e-3)
    assert pixels.min() > -0.5 and pixels.max() < 255.5
    assert pixels.std() > 50  # noise, not a constant

    ids, mask = split['text_ids'], split['text_mask']
    length = preprocessor.max_length
    assert ids.shape == mask.shape == (6, length)
    assert ids.dtype == mask.dtype == torch.long
    assert split['text_to_video'].tolist() == [0, 0, 1, 1, 2, 2]
    lengths = mask.sum(1)
    assert lengths.min() >= benchmark_retrieval.MIN_TEXT_TOKENS
    assert lengths.max() <= length
    # ones, then padding
    assert torch.equal(mask, (torch.arange(length) < lengths[:, None]).long())
    assert (ids[:, 0] == tokenizer.cls_token_id).all()
    assert (ids[torch.arange(6), lengths - 1] == tokenizer.sep_token_id).all()
    assert (ids[mask == 0] == tokenizer.pad_token_id).all()
    words = ids[:, 1:][mask[:, 1:].bool()]
    words = words[words != tokenizer.sep_token_id]
    assert words.numel() > 0
    assert not any(w in tokenizer.all_special_ids for w in words.tolist())
    assert words.max() < model.text_encoder.bert.config.vocab_size

    again = benchmark_retrieval.synthetic_split(
        preprocessor, shape, 3, 2, seed=1)
    other = benchmark_retrieval.synthetic_split(
        preprocessor, shape, 3, 2, seed=2)
    assert all(torch.equal(split[k], again[k]) for k in split)
    assert not torch.equal(split['video'], other['video'])
    assert not torch.equal(split['text_ids'], other['text_ids'])
    short = benchmark_retrieval.synthetic_split(
        preprocessor, shape, 3, 2, text_length=6)
    assert short['text_ids'].shape == (6, 6)


def test_synthetic_split_random_weights_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no data/demo: nothing of the config's
    num_videos, captions, text_batch, k = 12, 2, 5, 3
    result = benchmark_retrieval.main([
        str(DEMO_CONFIG), 'random', '--synthetic',
        str(num_videos), '--captions-per-video',
        str(captions), '--rerank-k',
        str(k), '--original-text-batch',
        str(text_batch), '--device', 'cpu'
    ])
    out = capsys.readouterr().out
    assert 'SYNTHETIC' in out
    assert ('NOTE: a synthetic split and random weights (seed 0): the '
            'metrics below measure nothing but the agreement') in out
    assert 'exact vs original metrics: MATCH' in out
    assert result['match'] and result['synthetic'] and result['random_weights']
    num_texts = num_videos * captions
    assert (result['num_videos'], result['num_texts']) == (num_videos,
                                                           num_texts)
    original, exact, topk = (result[p] for p in ('original', 'exact', 'topk'))
    assert original['videos'] == num_videos * math.ceil(num_texts / text_batch)
    assert exact['videos'] == topk['videos'] == num_videos
    assert original['texts'] == exact['texts'] == topk['texts'] == num_texts
    assert original['pairs'] == exact['pairs'] == num_texts * num_videos
    assert topk['pairs'] == num_texts * k


def test_split_clip_shape_follows_the_test_pipeline():
    # the clip shape is the test pipeline's, whatever the backbone is built
    # for (time_embed is resized at run time)
    cfg = Config.fromfile(REPO / 'configs/alpro/finetune_msrvtt_ret.py')
    cfg.merge_from_dict({'model.backbone.num_frames': 4})
    assert benchmark_retrieval.split_clip_shape(cfg) == (8, 224, 224)
    cfg.merge_from_dict({'test_dataloader.dataset.pipeline.1.num_clips': 2})
    assert benchmark_retrieval.split_clip_shape(cfg) == (16, 224, 224)


def test_synthetic_options_need_synthetic():
    with pytest.raises(SystemExit) as exit_info:
        benchmark_retrieval.parse_args(
            [str(DEMO_CONFIG), 'random', '--captions-per-video', '2'])
    assert exit_info.value.code == 2
