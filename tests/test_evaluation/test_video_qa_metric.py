"""VideoQAMetric against hand-computed accuracies."""
import math

import pytest
import torch
from mmengine.evaluator import Evaluator

from alpro.evaluation import VideoQAMetric
from alpro.registry import METRICS
from alpro.structures import VideoTextDataSample

# (pred_label, answer_label, answer_type); -1: answer out of vocabulary
CASES = [
    (3, 3, 'what'),
    (1, 2, 'what'),
    (0, -1, 'what'),  # OOV: wrong whatever the prediction
    (5, 5, 'what'),
    (4, 4, 'who'),
    (4, -1, 'who'),
    (2, 2, 'how'),
    (7, 1, 'where'),
]
# 4 right of 8; what 2/4, who 1/2, how 1/1, where 0/1
EXPECTED = dict(
    acc=50.0,
    acc_what=50.0,
    share_what=50.0,
    acc_who=50.0,
    share_who=25.0,
    acc_how=100.0,
    share_how=12.5,
    acc_where=0.0,
    share_where=12.5)


def make_samples(type_as_meta=True):
    samples = []
    for i, (pred, gold, answer_type) in enumerate(CASES):
        meta = dict(video_id=str(i))
        if type_as_meta:
            meta['answer_type'] = answer_type
        sample = VideoTextDataSample(metainfo=meta)
        if not type_as_meta:
            sample.answer_type = answer_type
        sample.answer_label = gold
        sample.pred_label = torch.tensor(pred)
        sample.pred_score = torch.zeros(8)
        samples.append(sample)
    return samples


def assert_metrics(metrics, expected, prefix='qa'):
    assert set(metrics) == {f'{prefix}/{k}' for k in expected}
    for key, value in expected.items():
        assert metrics[f'{prefix}/{key}'] == pytest.approx(value), key


@pytest.mark.parametrize('type_as_meta', [True, False])
def test_hand_computed(type_as_meta):
    metric = VideoQAMetric()
    samples = make_samples(type_as_meta)
    metric.process(dict(data_samples=samples), samples)
    assert_metrics(metric.evaluate(len(samples)), dict(EXPECTED, left_out=0))


def test_process_and_evaluate_with_a_left_out_sample():
    metric = METRICS.build(dict(type='VideoQAMetric'))
    assert isinstance(metric, VideoQAMetric) and metric.prefix == 'qa'
    samples = make_samples()
    placeholder = VideoTextDataSample(
        metainfo=dict(left_out='videos/broken.mp4'))
    half = len(samples) // 2
    # the data preprocessor dropped the placeholder: the outputs lack it
    metric.process(
        dict(data_samples=[*samples[:half], placeholder]), samples[:half])
    metric.process(dict(data_samples=samples[half:]), samples[half:])
    assert_metrics(
        metric.evaluate(len(samples) + 1), dict(EXPECTED, left_out=1))


def test_through_mmengine_evaluator():
    # MMEngine's Evaluator hands the metric each sample's to_dict(); plain
    # int labels work as well as tensors
    evaluator = Evaluator(VideoQAMetric(prefix='msrvtt_qa'))
    samples = make_samples()
    for sample in samples:
        sample.pred_label = int(sample.pred_label)
    evaluator.process(samples, dict(data_samples=samples))
    assert_metrics(
        evaluator.evaluate(len(samples)),
        dict(EXPECTED, left_out=0),
        prefix='msrvtt_qa')


def test_without_types_and_all_left_out():
    metric = VideoQAMetric()
    # no answer_type: the overall accuracy only
    plain = []
    for sample in make_samples():
        new = VideoTextDataSample()
        new.answer_label = sample.answer_label
        new.pred_label = sample.pred_label
        plain.append(new)
    metric.process(dict(data_samples=plain), plain)
    assert_metrics(metric.evaluate(len(plain)), dict(acc=50.0, left_out=0))

    empty = VideoQAMetric()
    empty.process(
        dict(data_samples=[VideoTextDataSample(metainfo=dict(left_out='x'))]),
        [])
    metrics = empty.evaluate(1)
    assert math.isnan(metrics['qa/acc']) and metrics['qa/left_out'] == 1


def test_missing_prediction_is_an_actionable_error():
    sample = VideoTextDataSample()
    sample.answer_label = 1
    with pytest.raises(KeyError, match='pred_label'):
        VideoQAMetric().process(dict(data_samples=[sample]), [sample])
