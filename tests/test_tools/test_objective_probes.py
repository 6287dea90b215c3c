"""tools/analysis/objective_probes.py on a random demo-sized retrieval model
and a synthetic split: the order probe sees whether the encoder can tell a
clip from its reversal, and the rankings are those of the similarity
matrices (the end-to-end runs on trained models are in docs/benchmarks.md)."""
from pathlib import Path

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
        assert result[f't2v_r1_{name}'] == 100 * float(
            (top == own).float().mean()), name
    matched = torch.nn.functional.one_hot(own, 6).bool()
    assert abs(result['vtm_matched'] - float(vtm[matched].mean())) < 1e-5
    assert abs(result['vtm_unmatched'] - float(vtm[~matched].mean())) < 1e-5
