"""MSRVTTRetrievalDataset: ALPRO's jsonl and the public MSR-VTT files."""
import json

import pytest

from alpro.datasets import AnnotationError, MSRVTTRetrievalDataset
from alpro.registry import DATASETS


def write_jsonl(path, records):
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    return path


@pytest.fixture
def msrvtt_data(tmp_path):
    """A tiny MSRVTT_data.json and its 7k/9k-style split files."""
    sentences = [
        dict(
            video_id=f'video{v}',
            caption=f'caption {k} of video {v}',
            sen_id=3 * v + k) for v in range(4) for k in range(3)
    ]
    data = dict(
        videos=[dict(video_id=f'video{v}', split='train') for v in range(4)],
        sentences=sentences)
    ann = tmp_path / 'MSRVTT_data.json'
    ann.write_text(json.dumps(data))
    (tmp_path / 'MSRVTT_train.7k.csv').write_text('video_id\nvideo0\n'
                                                  'video2\n')
    (tmp_path / 'MSRVTT_train.9k.csv').write_text('video_id\nvideo0\n'
                                                  'video1\nvideo2\n')
    return tmp_path


def test_alpro_jsonl(tmp_path):
    ann = write_jsonl(tmp_path / 'train.jsonl', [
        dict(caption=' a man sings ', clip_name='video7010'),
        dict(caption='a dog runs', clip_name='video7011'),
    ])
    dataset = DATASETS.build(
        dict(
            type='MSRVTTRetrievalDataset',
            ann_file=str(ann),
            data_prefix=dict(video=str(tmp_path / 'videos'))))
    assert len(dataset) == 2
    first = dataset.get_data_info(0)
    assert first['video_id'] == 'video7010'
    assert first['video_path'] == str(tmp_path / 'videos/video7010.mp4')
    assert first['text'] == 'a man sings'


@pytest.mark.parametrize('split, videos',
                         [('7k', ['video0', 'video2']),
                          ('9k', ['video0', 'video1', 'video2'])])
def test_msrvtt_data_json_with_split(msrvtt_data, split, videos):
    dataset = MSRVTTRetrievalDataset(
        ann_file=str(msrvtt_data / 'MSRVTT_data.json'),
        split_file=str(msrvtt_data / f'MSRVTT_train.{split}.csv'),
        data_prefix=dict(video=str(msrvtt_data)))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert len(infos) == 3 * len(videos)  # every caption of every video
    assert sorted({info['video_id'] for info in infos}) == videos
    assert infos[0]['text'] == 'caption 0 of video 0'
    assert infos[0]['video_path'] == str(msrvtt_data / 'video0.mp4')


def test_msrvtt_data_json_needs_a_matching_split(msrvtt_data):
    ann = str(msrvtt_data / 'MSRVTT_data.json')
    with pytest.raises(AnnotationError, match='split_file'):
        MSRVTTRetrievalDataset(ann_file=ann)
    split = msrvtt_data / 'split.csv'
    split.write_text('video_id\nvideo0\nvideo99\n')
    with pytest.raises(AnnotationError, match=r'split\.csv.*video99'):
        MSRVTTRetrievalDataset(ann_file=ann, split_file=str(split))
    bad = msrvtt_data / 'bad.json'
    bad.write_text(json.dumps(dict(sentences=[dict(video_id='video0')])))
    with pytest.raises(AnnotationError, match=r'bad\.json, sentence 0'):
        MSRVTTRetrievalDataset(
            ann_file=str(bad),
            split_file=str(msrvtt_data / 'MSRVTT_train.7k.csv'))


def test_jsfusion_test_csv(tmp_path):
    ann = tmp_path / 'MSRVTT_JSFUSION_test.csv'
    ann.write_text('key,vid_key,video_id,sentence\n'
                   'ret0,msr7579,video7579,a girl wearing red top\n'
                   'ret1,msr7725,video7725,"young people sit, talk"\n')
    dataset = MSRVTTRetrievalDataset(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path)))
    assert len(dataset) == 2
    second = dataset.get_data_info(1)
    assert second['video_id'] == 'video7725'
    assert second['text'] == 'young people sit, talk'
    assert second['video_path'] == str(tmp_path / 'video7725.mp4')
    ann.write_text('key,vid_key,video_id,sentence\nret0,msr1,video1\n')
    with pytest.raises(AnnotationError, match=r'test\.csv, line 2'):
        MSRVTTRetrievalDataset(ann_file=str(ann))


@pytest.mark.parametrize('line, problem', [
    ('{"caption": "x"', 'not valid JSON'),
    ('["x", "video1"]', 'JSON object'),
    ('{"caption": "x"}', 'clip_name'),
    ('{"caption": "", "clip_name": "video1"}', 'empty'),
])
def test_malformed_jsonl_names_file_and_line(tmp_path, line, problem):
    ann = tmp_path / 'test.jsonl'
    ann.write_text('{"caption": "ok", "clip_name": "video0"}\n\n' + line +
                   '\n')
    with pytest.raises(
            AnnotationError, match=rf'test\.jsonl, line 3: .*'
            rf'{problem}'):
        MSRVTTRetrievalDataset(ann_file=str(ann))


def test_path_escape_and_unknown_form_refused(tmp_path):
    ann = write_jsonl(tmp_path / 'a.jsonl',
                      [dict(caption='x', clip_name='../../etc/passwd')])
    with pytest.raises(AnnotationError, match='escapes'):
        MSRVTTRetrievalDataset(
            ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'v')))
    other = tmp_path / 'a.txt'
    other.write_text('x')
    with pytest.raises(AnnotationError, match='unknown MSR-VTT'):
        MSRVTTRetrievalDataset(ann_file=str(other))
