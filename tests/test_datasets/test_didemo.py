"""DiDeMoRetrievalDataset: ALPRO's paragraph-to-video jsonl."""
import json

import pytest

from alpro.datasets import AnnotationError, DiDeMoRetrievalDataset


def test_paragraph_str_or_list(tmp_path):
    ann = tmp_path / 'test.jsonl'
    ann.write_text(
        json.dumps(dict(caption='the dog jumps.', clip_name='a/clip1')) +
        '\n' + json.dumps(
            dict(
                caption=[' a man waves. ', 'he sits down.'],
                clip_name='clip2')) + '\n')
    dataset = DiDeMoRetrievalDataset(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path)))
    assert len(dataset) == 2
    assert dataset.get_data_info(0)['text'] == 'the dog jumps.'
    assert dataset.get_data_info(0)['video_path'] == str(tmp_path /
                                                         'a/clip1.mp4')
    second = dataset.get_data_info(1)
    assert second['text'] == 'a man waves. he sits down.'
    assert second['video_id'] == 'clip2'


@pytest.mark.parametrize('record, problem', [
    (dict(caption=[], clip_name='c'), 'non-empty'),
    (dict(caption=['ok', 3], clip_name='c'), 'non-string'),
    (dict(caption='ok', clip_name=''), 'clip_name'),
    (dict(clip_name='c'), 'missing'),
])
def test_malformed_line_names_file_and_line(tmp_path, record, problem):
    ann = tmp_path / 'train.jsonl'
    ann.write_text('{"caption": "ok", "clip_name": "c0"}\n' +
                   json.dumps(record) + '\n')
    with pytest.raises(
            AnnotationError, match=rf'train\.jsonl, line 2: .*{problem}'):
        DiDeMoRetrievalDataset(ann_file=str(ann))


def test_path_escape_refused(tmp_path):
    ann = tmp_path / 'train.jsonl'
    ann.write_text(json.dumps(dict(caption='x', clip_name='/etc/x')) + '\n')
    with pytest.raises(AnnotationError, match='line 1.*escapes'):
        DiDeMoRetrievalDataset(
            ann_file=str(ann), data_prefix=dict(video=str(tmp_path)))
