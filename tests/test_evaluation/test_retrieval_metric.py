"""RetrievalMetric and retrieval_metrics against a brute-force reference."""
import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator

from alpro.evaluation import RetrievalMetric, retrieval_metrics
from alpro.evaluation.metrics.retrieval_metric import METRIC_NAMES
from alpro.registry import METRICS
from alpro.structures import VideoTextDataSample


def reference(sim, text_to_video, num_videos):
    """The metrics with plain loops, straight from their definitions."""
    num_texts = len(sim)

    def rank_of(scores, correct):
        # 1 + the number of candidates scored strictly higher
        return 1 + sum(1 for s in scores if s > scores[correct])

    t2v = [rank_of(sim[i], text_to_video[i]) for i in range(num_texts)]
    v2t = []
    for video in range(num_videos):
        column = [sim[i][video] for i in range(num_texts)]
        captions = [i for i in range(num_texts) if text_to_video[i] == video]
        if captions:
            v2t.append(min(rank_of(column, i) for i in captions))

    metrics = {}
    for name, ranks in (('t2v', t2v), ('v2t', v2t)):
        for k in (1, 5, 10):
            hits = sum(1 for r in ranks if r <= k)
            metrics[f'{name}_r{k}'] = 100 * hits / len(ranks)
        metrics[f'{name}_medr'] = statistics.median(ranks)
        metrics[f'{name}_meanr'] = sum(ranks) / len(ranks)
    recalls = [
        metrics[f'{d}_r{k}'] for d in ('t2v', 'v2t') for k in (1, 5, 10)
    ]
    metrics['r_mean'] = sum(recalls) / 6
    return metrics


def random_case(seed, ties, captionless=0):
    """7 videos with 1-4 captions each, texts in shuffled order."""
    generator = torch.Generator().manual_seed(seed)
    captions = torch.randint(1, 5, (7, ), generator=generator)
    text_to_video = torch.repeat_interleave(torch.arange(7), captions)
    text_to_video = text_to_video[torch.randperm(
        len(text_to_video), generator=generator)]
    shape = (len(text_to_video), 7 + captionless)
    if ties:
        # a few levels only: many ties, also with the correct item
        sim = torch.randint(0, 3, shape, generator=generator).float()
    else:
        sim = torch.randn(shape, generator=generator)
        # make the correct video likelier, so that ranks spread over 1..10
        sim[torch.arange(shape[0]), text_to_video] += 1.0
    return sim, text_to_video


def assert_metrics_equal(got, expected):
    assert list(got) == list(expected)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-9), key


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('ties', [False, True])
def test_matches_brute_force(seed, ties):
    sim, text_to_video = random_case(seed, ties)
    got = retrieval_metrics(sim, text_to_video)
    assert tuple(got) == METRIC_NAMES
    assert_metrics_equal(
        got, reference(sim.tolist(), text_to_video.tolist(), sim.shape[1]))
    assert all(isinstance(v, float) for v in got.values())


def test_videos_without_captions_are_left_out_of_v2t():
    sim, text_to_video = random_case(0, ties=False, captionless=2)
    assert_metrics_equal(
        retrieval_metrics(sim, text_to_video),
        reference(sim.tolist(), text_to_video.tolist(), sim.shape[1]))


def test_a_video_counts_at_its_best_caption():
    # video 0 has two captions: text 0 ranks last for it, text 1 first
    sim = torch.tensor([[0.1, 0.3], [0.9, 0.2], [0.5, 0.8]])
    metrics = retrieval_metrics(sim, torch.tensor([0, 0, 1]))
    assert metrics['v2t_r1'] == 100 and metrics['v2t_meanr'] == 1
    assert metrics['t2v_r1'] == pytest.approx(200 / 3)  # text 0 misses


def test_perfect_diagonal():
    text_to_video = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    sim = F.one_hot(text_to_video, 4).float()
    metrics = retrieval_metrics(sim, text_to_video)
    for direction in ('t2v', 'v2t'):
        for k in (1, 5, 10):
            assert metrics[f'{direction}_r{k}'] == 100
        assert metrics[f'{direction}_medr'] == 1
        assert metrics[f'{direction}_meanr'] == 1
    assert metrics['r_mean'] == 100


def test_ties_count_for_the_correct_item():
    # documented rule: rank = 1 + the number of strictly higher scores
    metrics = retrieval_metrics(torch.zeros(3, 3), torch.arange(3))
    assert metrics['t2v_r1'] == 100 and metrics['v2t_medr'] == 1


def test_even_count_median_is_the_mean_of_the_middle_two():
    # t2v ranks 1 and 2
    sim = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert retrieval_metrics(sim, torch.tensor([0, 1]))['t2v_medr'] == 1.5


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match='text_to_video'):
        retrieval_metrics(torch.zeros(3, 2), torch.zeros(2).long())
    with pytest.raises(ValueError, match=r'\[0, 2\)'):
        retrieval_metrics(torch.zeros(2, 2), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match='NaN'):
        retrieval_metrics(torch.full((2, 2), float('nan')), torch.arange(2))


# ---------------------------------------------------------------------------
# The metric through process / evaluate.


def make_pairs(seed=0, num_videos=5, dim=16):
    """Data samples of (video, caption) pairs, 1-3 captions per video.

    A video's later pairs carry a DIFFERENT (random) video embedding: the
    metric must use the first occurrence's.

    Returns:
        the samples, and the metrics expected of them.
    """
    generator = torch.Generator().manual_seed(seed)
    video = F.normalize(torch.randn(num_videos, dim, generator=generator), 1)
    samples, texts, text_to_video = [], [], []
    last_video = video.clone()
    for v in range(num_videos):
        for c in range(1 + v % 3):
            text = F.normalize(
                video[v] + 0.8 * torch.randn(dim, generator=generator), dim=0)
            embed = video[v] if c == 0 else F.normalize(
                torch.randn(dim, generator=generator), dim=0)
            last_video[v] = embed
            sample = VideoTextDataSample(metainfo=dict(video_id=f'vid{v}'))
            sample.video_embed = embed
            sample.text_embed = text
            samples.append(sample)
            texts.append(text)
            text_to_video.append(v)
    texts, text_to_video = torch.stack(texts), torch.tensor(text_to_video)
    expected = retrieval_metrics(texts @ video.t(), text_to_video)
    # what keeping the last occurrence would give: it must differ, or the
    # test could not tell
    assert retrieval_metrics(texts @ last_video.t(), text_to_video) != expected
    return samples, expected


def left_out_placeholder():
    return VideoTextDataSample(metainfo=dict(left_out='videos/broken.mp4'))


def test_process_and_evaluate_with_a_left_out_sample():
    metric = METRICS.build(dict(type='RetrievalMetric'))
    assert isinstance(metric, RetrievalMetric)
    assert metric.prefix == 'retrieval'
    samples, expected = make_pairs()
    half = len(samples) // 2
    # the data preprocessor dropped the placeholder: the outputs lack it
    metric.process(
        dict(data_samples=[*samples[:half],
                           left_out_placeholder()]), samples[:half])
    metric.process(dict(data_samples=samples[half:]), samples[half:])
    metrics = metric.evaluate(len(samples) + 1)
    assert metrics.pop('retrieval/left_out') == 1
    assert_metrics_equal(metrics, {
        f'retrieval/{k}': v
        for k, v in expected.items()
    })


def test_through_mmengine_evaluator_with_dict_samples():
    # MMEngine's Evaluator hands the metric each sample's to_dict()
    evaluator = Evaluator(RetrievalMetric(prefix='zero_shot'))
    samples, expected = make_pairs(seed=1)
    evaluator.process(samples, dict(data_samples=samples))
    metrics = evaluator.evaluate(len(samples))
    assert metrics.pop('zero_shot/left_out') == 0
    assert_metrics_equal(metrics, {
        f'zero_shot/{k}': v
        for k, v in expected.items()
    })


def test_ranked_rows_are_ranked_as_they_are():
    """The retrieval loops' form: each caption's row of scores against
    every video and the index of its own video."""
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(6, 4, generator=generator)
    text_to_video = torch.tensor([0, 1, 2, 3, 0, 2])
    samples = []
    for row, video in zip(scores, text_to_video):
        sample = VideoTextDataSample(metainfo=dict(video_id=str(video)))
        sample.pred_score = row
        sample.gt_label = int(video)
        samples.append(sample)
    evaluator = Evaluator(RetrievalMetric())
    evaluator.process(samples[:3], dict(data_samples=samples[:3]))
    evaluator.process(
        samples[3:],
        dict(data_samples=[*samples[3:], left_out_placeholder()]))
    metrics = evaluator.evaluate(len(samples) + 1)
    assert metrics.pop('retrieval/left_out') == 1
    assert_metrics_equal(
        metrics, {
            f'retrieval/{k}': v
            for k, v in retrieval_metrics(scores, text_to_video).items()
        })
    # one form per evaluation, and a row names its video
    pair, _ = make_pairs()
    metric = RetrievalMetric()
    metric.process(dict(data_samples=samples[:1]), samples[:1])
    metric.process(dict(data_samples=pair[:1]), pair[:1])
    with pytest.raises(ValueError, match='one form'):
        metric.evaluate(2)
    del samples[0].gt_label
    with pytest.raises(KeyError, match='gt_label'):
        RetrievalMetric().process(dict(data_samples=[]), samples[:1])


def test_only_left_out_samples_give_nan():
    metric = RetrievalMetric()
    metric.process(dict(data_samples=[left_out_placeholder()]), [])
    metrics = metric.evaluate(1)
    assert metrics.pop('retrieval/left_out') == 1
    assert list(metrics) == [f'retrieval/{name}' for name in METRIC_NAMES]
    assert all(math.isnan(v) for v in metrics.values())


def test_missing_embedding_names_the_field():
    sample = VideoTextDataSample(metainfo=dict(video_id='v'))
    sample.text_embed = torch.zeros(4)
    with pytest.raises(KeyError, match='video_embed'):
        RetrievalMetric().process(dict(data_samples=[sample]), [sample])
