"""AlproRetrieval: fine-tuning losses and ranking against a brute-force
reference (every pair through the fusion encoder one at a time)."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger

from alpro.evaluation.metrics.retrieval_metric import retrieval_metrics
from alpro.registry import MODELS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_preprocessor,
                                   tiny_text_encoder)


def build(tokenizer_dir, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='AlproRetrieval',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            text_encoder=tiny_text_encoder(initializer_range=0.1),
            embed_dim=16,
            **kwargs))
    model.init_weights()
    return model.eval()


def encoded(model, num_videos=5, num_texts=7):
    generator = torch.Generator().manual_seed(1)
    video = torch.randn(num_videos, 3, 2, 32, 32, generator=generator)
    text_ids = torch.randint(5, 20, (num_texts, 8), generator=generator)
    text_mask = torch.ones_like(text_ids)
    text_mask[::2, 6:] = 0  # some padding
    with torch.no_grad():
        tokens, video_feat = model.encode_video(video)
        text_tokens, text_feat = model.encode_text(text_ids, text_mask)
    return tokens, video_feat, text_tokens, text_mask, text_feat


def brute_force(model, tokens, video_feat, text_tokens, text_mask, text_feat,
                score):
    out = torch.empty(text_tokens.size(0), tokens.size(0))
    with torch.no_grad():
        for t in range(out.size(0)):
            for v in range(out.size(1)):
                fused = model.text_encoder.fuse(text_tokens[t:t + 1],
                                                text_mask[t:t + 1],
                                                tokens[v:v + 1])
                logits = model.vtm_head(fused[:, 0])[0]
                out[t, v] = (
                    logits.softmax(-1)[1] if score == 'vtm_prob' else
                    logits[1] + text_feat[t] @ video_feat[v])
    return out


@pytest.mark.parametrize('score', ['vtm_prob', 'vtm_logit+vtc'])
def test_exact_ranking_scores_every_pair(tokenizer_dir, score):
    model = build(tokenizer_dir, score=score, pair_batch_size=4)
    parts = encoded(model)
    torch.testing.assert_close(
        model.rank(*parts),
        brute_force(model, *parts, score),
        atol=1e-5,
        rtol=1e-5)


def test_top_k_scores_only_the_k_most_similar(tokenizer_dir):
    exact = build(tokenizer_dir)
    parts = encoded(exact)
    full = exact.rank(*parts)
    top = build(tokenizer_dir, rerank_k=2)
    top.load_state_dict(exact.state_dict())
    scores = top.rank(*parts)
    sim = parts[4] @ parts[1].t()
    chosen = sim.topk(2, dim=1).indices
    torch.testing.assert_close(
        scores.gather(1, chosen), full.gather(1, chosen))
    # the others rank below every re-scored pair, in VTC order
    others = torch.ones_like(
        scores, dtype=torch.bool).scatter_(1, chosen, False)
    assert scores[others].max() < scores.gather(1, chosen).min()
    for row in range(7):
        kept = others[row]
        order = scores[row][kept].argsort()
        assert torch.equal(order, sim[row][kept].argsort())
    metrics = retrieval_metrics(scores, torch.arange(7) % 5)
    assert 0 <= metrics['v2t_r1'] <= 100


def test_bad_settings_are_refused(tokenizer_dir):
    with pytest.raises(ValueError, match='score must be'):
        build(tokenizer_dir, score='itm')
    with pytest.raises(ValueError, match='rerank_k'):
        build(tokenizer_dir, rerank_k=0)
    with pytest.raises(ValueError, match="keep 'vtm'"):
        build(tokenizer_dir, tasks=('vtc', ))


def test_fine_tuning_losses(tokenizer_dir):
    from alpro.structures import VideoTextDataSample
    model = build(tokenizer_dir).train()
    samples = []
    for i, text in enumerate(['red circle', 'blue square', 'the circle']):
        sample = VideoTextDataSample(metainfo=dict(video_id=str(i)))
        sample.text = text
        samples.append(sample)
    clips = [
        torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
        for _ in samples
    ]
    out = model(
        **model.data_preprocessor(
            dict(inputs=clips, data_samples=samples), True),
        mode='loss')
    assert {k
            for k in out if k.startswith('loss_')} == {'loss_vtc', 'loss_vtm'}
    assert all(torch.isfinite(v) for v in out.values())


def test_multi_clip_test_time_averaging(tokenizer_dir):
    model = build(tokenizer_dir, test_clips=2)
    video = torch.randn(3, 3, 4, 32, 32)  # 2 clips of 2 frames each
    with torch.no_grad():
        averaged = model.backbone_tokens(video)
        first = model.backbone(video[:, :, :2])
        second = model.backbone(video[:, :, 2:])
    torch.testing.assert_close(averaged, (first + second) / 2)
    with pytest.raises(ValueError, match='does not divide'):
        model.backbone_tokens(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match='test_clips'):
        build(tokenizer_dir, test_clips=0)
    model.train()  # training sees one clip per video
    with torch.no_grad():
        assert model.backbone_tokens(video).shape == averaged.shape
        torch.testing.assert_close(
            model.backbone_tokens(video[:, :, :2]), first)


class Records(logging.Handler):
    """The messages logged to MMEngine's current logger."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def progress_lines(model) -> list:
    logger = MMLogger.get_current_instance()
    records = Records()
    logger.addHandler(records)
    try:
        model.rank(*encoded(model))
    finally:
        logger.removeHandler(records)
    return [m for m in records.messages if 'AlproRetrieval.rank:' in m]


def test_long_ranking_logs_its_progress(tokenizer_dir):
    model = build(tokenizer_dir, pair_batch_size=1)  # 35 fusion passes
    lines = progress_lines(model)
    assert len(lines) == 11  # every 3rd of 35 passes
    assert '3 / 35 pairs re-scored' in lines[0]
    assert '33 / 35 pairs re-scored' in lines[-1] and 'eta' in lines[-1]
    model.pair_batch_size = 4  # 9 passes: quiet
    assert progress_lines(model) == []
