"""One policy for annotation rows that cannot be used: skipped, counted and
named in training; left out and counted by the metric at evaluation; a file
with too many refused."""
import csv
import json

import pytest
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub

from alpro.datasets import (AnnotationError, CC3MDataset, VideoQADataset,
                            WebVidDataset)
from alpro.evaluation import VideoQAMetric
from tests.video_files import write_video

HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']


def write_webvid(path, captions):
    """A WebVid CSV, one row per caption (row i is on line i + 2)."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i, caption in enumerate(captions):
            writer.writerow([str(i), 'u', 'PT00H00M01S', 'p', caption])
    return path


def test_webvid_empty_captions_are_skipped_counted_and_named(
        tmp_path, warnings_logged):
    captions = [f'caption {i}' for i in range(300)]
    captions[4] = captions[250] = ''  # WebVid-2.5M has such rows
    ann = write_webvid(tmp_path / 'results_2M_train.csv', captions)
    dataset = WebVidDataset(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path)))
    assert len(dataset) == 298
    assert 'caption 4' not in {
        dataset.get_data_info(i)['text']
        for i in range(len(dataset))
    }
    summary = [m for m in warnings_logged if 'bad: ' in m]
    assert len(summary) == 1  # one summary at start-up
    assert '300 lines read, 298 used' in summary[0]
    assert 'bad: 2 lines skipped' in summary[0]
    assert f'{ann}, line 6: empty caption' in summary[0]
    assert f'{ann}, line 252: empty caption' in summary[0]
    hub = MessageHub.get_current_instance()
    assert hub.get_scalar('train/bad_rows').current() >= 2


def test_cc3m_and_qa_bad_rows_are_skipped(tmp_path):
    records = [dict(image=f'{i}.jpg', caption=f'c {i}') for i in range(200)]
    records[7]['caption'] = ' '
    ann = tmp_path / 'cc3m.json'
    ann.write_text(json.dumps(records))
    dataset = CC3MDataset(ann_file=str(ann))
    assert len(dataset) == 199
    assert dataset.row_reports[0].bad == [(7, 'expected {"image": path, '
                                           '"caption": str or [str, ...]} '
                                           'with non-empty captions, got '
                                           "{'image': '7.jpg', 'caption': "
                                           "' '}")]

    rows = [
        dict(question=f'what is {i}', answer='a', video_id='v')
        for i in range(200)
    ]
    rows[3]['question'] = ''
    qa = tmp_path / 'train.jsonl'
    qa.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    dataset = VideoQADataset(ann_file=str(qa))
    assert len(dataset) == 199
    assert dataset.row_reports[0].bad == [(4, 'empty or non-string question')]


def test_too_many_bad_rows_refuse_the_file(tmp_path):
    captions = [f'caption {i}' for i in range(10)]
    for i in (1, 2, 3, 5, 6, 8, 9):
        captions[i] = ''
    ann = write_webvid(tmp_path / 'ann.csv', captions)
    with pytest.raises(AnnotationError) as info:
        WebVidDataset(ann_file=str(ann))
    message = str(info.value)
    assert '7 of 10 lines cannot be used' in message
    assert 'max_bad_row_ratio=0.01' in message
    assert f'{ann}, line 3: empty caption' in message  # the first, in full
    assert f'{ann}, line 8: empty caption' in message  # the fifth
    assert 'line 10' not in message and '... and 2 more' in message
    # the limit is a dataset argument
    assert len(WebVidDataset(ann_file=str(ann), max_bad_row_ratio=0.7)) == 3
    with pytest.raises(ValueError, match='max_bad_row_ratio'):
        WebVidDataset(ann_file=str(ann), max_bad_row_ratio=1.5)


def test_at_evaluation_bad_rows_are_left_out_and_the_metric_counts_them(
        tmp_path, tokenizer_dir, warnings_logged):
    from alpro.models.data_preprocessors import VideoTextDataPreprocessor
    for name in ('v0', 'v1'):
        write_video(tmp_path / f'{name}.mp4', num_frames=8)
    rows = [
        dict(question='what moves', answer='square', video_id='v0'),
        dict(question='  ', answer='square', video_id='v1'),
        dict(question='what colour', answer='red', video_id='v1'),
    ]
    ann = tmp_path / 'test.jsonl'
    ann.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    vocab = tmp_path / 'train_ans2label.json'
    vocab.write_text(json.dumps(dict(square=0, red=1)))
    dataset = VideoQADataset(
        ann_file=str(ann),
        ans2label_file=str(vocab),
        test_mode=True,
        max_bad_row_ratio=0.5,
        data_prefix=dict(video=str(tmp_path)),
        pipeline=[
            dict(type='DecordInit'),
            dict(type='SampleFrames', num_frames=2, test_mode=True),
            dict(type='DecordDecode'),
            dict(
                type='PackVideoTextInputs',
                meta_keys=('sample_idx', 'answer_type'),
                data_keys=('answer_label', )),
        ])
    assert len(dataset) == 3  # nothing skipped silently
    assert any('bad: 1 line left out of the evaluation' in m
               for m in warnings_logged)
    batch = pseudo_collate([dataset[i] for i in range(3)])
    assert batch['inputs'][1] is None
    assert batch['data_samples'][1].left_out == (
        f'{ann}, line 2: empty or non-string question')
    kept = VideoTextDataPreprocessor(tokenizer=dict(
        path=str(tokenizer_dir)))(batch)['data_samples']
    for sample in kept:  # the model's answers: both right
        sample.pred_label = sample.answer_label
    metric = VideoQAMetric()
    metric.process(batch, kept)
    metrics = metric.evaluate(3)
    assert metrics['qa/left_out'] == 1
    assert metrics['qa/acc'] == 100.0
