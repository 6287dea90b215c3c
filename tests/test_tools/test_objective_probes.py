"""tools/analysis/objective_probes.py on a random demo-sized retrieval model
and a synthetic split: the order probe sees whether the encoder can tell a
clip from its reversal, and the rankings are those of the similarity
matrices (the end-to-end runs on trained models are in docs/benchmarks.md)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from tests.tool_modules import load_tool

REPO = Path(__file__).resolve().parents[2]
benchmark_retrieval = load_tool('tools/analysis/benchmark_retrieval.py')
objective_probes = load_tool('tools/analysis/objective_probes.py')

DEMO_CONFIG = REPO / 'configs/demo/finetune_msrvtt_ret.py'


def model_and_split(tmp_path, monkeypatch, **backbone):
    monkeypatch.chdir(tmp_path)  # no data/demo: nothing of the config's
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone.update(backbone)
    torch.manual_seed(0)
    model = benchmark_retrieval.build_model(cfg, 'random', 'cpu')
    split = benchmark_retrieval.synthetic_split(
        model.data_preprocessor,
        benchmark_retrieval.split_clip_shape(cfg),
        num_videos=6,
        captions_per_video=2,
        seed=1)
    return model, split


def test_order_probe_sees_only_what_the_time_embedding_gives(
        tmp_path, monkeypatch):
    # per-frame patches, as ALPRO (the demo's tubelets see order anyway)
    model, split = model_and_split(tmp_path, monkeypatch, tubelet_size=1)
    # the temporal branches on (TimeSformer starts them at zero); without a
    # time embedding, attention over the frames and the mean over time
    # still cannot tell a clip from its reversal
    with torch.no_grad():
        for block in model.backbone.blocks:
            block.temporal_fc.weight.normal_(std=0.5)
    assert not model.backbone.time_embed.any()
    blind = objective_probes.probe_retrieval(model, split, 8, 'cpu')
    assert blind['order_embedding_change'] < 1e-7
    with torch.no_grad():
        model.backbone.time_embed.normal_(std=1.0)
    seeing = objective_probes.probe_retrieval(model, split, 8, 'cpu')
    # small even so (4e-5 measured): the [CLS] reads each frame through
    # spatial attention, where the frame's time embedding shifts every key
    # alike and the softmax cancels it, then averages the frames
    assert seeing['order_embedding_change'] > 1e-5
    for result in (blind, seeing):
        assert (result['texts'], result['videos']) == (12, 6)
        for key in ('order_vtc', 'order_vtm'):
            assert 0.0 <= result[key] <= 1.0


def test_rankings_are_those_of_vtc_and_of_every_pair_through_vtm(
        tmp_path, monkeypatch):
    model, split = model_and_split(tmp_path, monkeypatch)
    result = objective_probes.probe_retrieval(model, split, 5, 'cpu')
    with torch.no_grad():
        video_tokens, video_feat = model.encode_video(split['video'])
        text_tokens, text_feat = model.encode_text(split['text_ids'],
                                                   split['text_mask'])
        own = split['text_to_video']
        vtc_top = (text_feat @ video_feat.t()).argmax(1)
        # every pair through the fusion layers one at a time
        mask = split['text_mask']
        vtm = torch.stack([
            torch.cat([
                objective_probes.match_probability(model, text_tokens[t:t + 1],
                                                   mask[t:t + 1],
                                                   video_tokens[v:v + 1], 1)
                for v in range(6)
            ]) for t in range(12)
        ])
    for name, top in (('vtc', vtc_top), ('vtm', vtm.argmax(1))):
        assert result[f't2v_r1_{name}'] == pytest.approx(100 * float(
            (top == own).float().mean())), name
        assert result[f't2v_r1_{name}'] <= result[f't2v_r5_{name}'] <= result[
            f't2v_r10_{name}'] == 100.0  # 6 clips
    # the caption-by-caption counts add up to the recall difference
    for k in (1, 5, 10):
        assert result[f'vtm_only_r{k}'] - result[f'vtc_only_r{k}'] == round(
            12 * (result[f't2v_r{k}_vtm'] - result[f't2v_r{k}_vtc']) / 100)
    matched = torch.nn.functional.one_hot(own, 6).bool()
    assert abs(result['vtm_matched'] - float(vtm[matched].mean())) < 1e-5
    assert abs(result['vtm_unmatched'] - float(vtm[~matched].mean())) < 1e-5


def test_sign_test_is_the_exact_binomial_tail():
    # 0 of 5 one way: 2 * (1/2)^5; 2 of 10: 2 * (1 + 10 + 45) / 2^10
    assert objective_probes.sign_test(0, 5) == 2 / 32
    assert objective_probes.sign_test(8, 2) == 2 * 56 / 1024
    assert objective_probes.sign_test(2, 8) == objective_probes.sign_test(8, 2)
    assert objective_probes.sign_test(3, 3) == 1.0
    assert objective_probes.sign_test(0, 0) == 1.0


def test_rankings_are_compared_caption_by_caption():
    ranks = dict(
        vtc=torch.tensor([0, 0, 3, 12, 7, 0]),
        vtm=torch.tensor([0, 2, 0, 4, 30, 1]))
    result = objective_probes.compare_rankings(ranks)
    # R@1: caption 2 only VTM, captions 1 and 5 only VTC
    assert (result['vtm_only_r1'], result['vtc_only_r1']) == (1, 2)
    # R@5: caption 3 only VTM (4 < 5 <= 12); caption 4 neither
    assert (result['vtm_only_r5'], result['vtc_only_r5']) == (1, 0)
    # R@10: caption 3 only VTM (4 < 10 <= 12), caption 4 only VTC
    assert (result['vtm_only_r10'], result['vtc_only_r10']) == (1, 1)
    assert result['sign_p_r10'] == 1.0
    assert result['sign_p_r1'] == objective_probes.sign_test(1, 2)
