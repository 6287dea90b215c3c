"""benchmark_retrieval.py on the demo corpus: the original ALPRO protocol
and exact ranking agree, top-K equals a reference ranking, and the pass
counts are those of each protocol."""
import math
import os
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from alpro.evaluation.metrics.retrieval_metric import retrieval_metrics
from alpro.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'tests/data/configs/retrieval_eval.py'
sys.path.insert(0, str(REPO / 'tools/analysis'))

import benchmark_retrieval  # noqa: E402


@pytest.fixture
def in_demo(demo_corpus, tmp_path):
    """cwd in the demo corpus, and a random-init checkpoint."""
    cwd = os.getcwd()
    os.chdir(demo_corpus)
    try:
        cfg = Config.fromfile(CONFIG)
        with DefaultScope.overwrite_default_scope('alpro'):
            torch.manual_seed(5)
            model = MODELS.build(cfg.model)
            model.init_weights()
        checkpoint = tmp_path / 'model.pth'
        torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
        yield checkpoint
    finally:
        os.chdir(cwd)


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
    model.rerank_k = k
    with torch.no_grad():
        video, text, video_feat, text_feat = model.encode(
            dict(
                video=split['video'],
                text_ids=split['text_ids'],
                text_mask=split['text_mask']))
        scores = model.rank(video, video_feat, text, split['text_mask'],
                            text_feat)
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
