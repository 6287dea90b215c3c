"""WebVidDataset: the official CSV and ALPRO's pickled DataFrame."""
import csv
import os
import pickle
import sys

import pytest

from alpro.datasets import AnnotationError, WebVidDataset
from tests.video_files import write_video

HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']


def write_csv(path, rows, header=HEADER):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_official_csv(tmp_path):
    ann = write_csv(tmp_path / 'results_2M_train.csv', [
        [
            '101', 'http://x/101.mp4', 'PT00H00M11S', '001_050',
            'A red circle, moving left'
        ],
        ['102', 'http://x/102.mp4', 'PT00H00M05S', '', 'dropped: no page'],
        ['103', 'http://x/103.mp4', 'PT00H00M07S', '051_100', ' sky '],
    ])
    dataset = WebVidDataset(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'videos')))
    assert len(dataset) == 2
    first = dataset.get_data_info(0)
    assert first['video_path'] == str(tmp_path / 'videos/001_050/101.mp4')
    assert first['text'] == 'A red circle, moving left'
    assert first['video_id'] == '001_050/101'
    assert dataset.get_data_info(1)['text'] == 'sky'


def test_csv_missing_column_names_file(tmp_path):
    ann = write_csv(
        tmp_path / 'a.csv', [['1', 'x', 'name']],
        header=['videoid', 'contentUrl', 'name'])
    with pytest.raises(AnnotationError, match=r'a\.csv, line 1: header'):
        WebVidDataset(ann_file=str(ann))


def test_csv_malformed_line_names_file_and_line(tmp_path):
    ann = tmp_path / 'bad.csv'
    ann.write_text(','.join(HEADER) + '\n'
                   '1,u,PT00H00M01S,p,ok\n'
                   '2,u,PT00H00M01S\n')
    with pytest.raises(AnnotationError, match=r'bad\.csv, line 3'):
        WebVidDataset(ann_file=str(ann))
    ann.write_text(','.join(HEADER) + '\n1,u,PT00H00M01S,p,\n')
    with pytest.raises(AnnotationError, match='line 2: empty caption'):
        WebVidDataset(ann_file=str(ann))
    ann.write_text(','.join(HEADER) + '\n,u,PT00H00M01S,p,x\n')
    with pytest.raises(AnnotationError, match='line 2: empty video id'):
        WebVidDataset(ann_file=str(ann))


@pytest.mark.parametrize('page_dir', ['../../etc', '/etc', 'a/../../b'])
def test_path_escaping_data_prefix_is_refused(tmp_path, page_dir):
    ann = write_csv(tmp_path / 'esc.csv',
                    [['1', 'u', 'PT00H00M01S', 'ok', 'fine'],
                     ['passwd', 'u', 'PT00H00M01S', page_dir, 'evil']])
    with pytest.raises(AnnotationError, match=r'esc\.csv, line 3.*escapes'):
        WebVidDataset(
            ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'v')))


def test_missing_annotation_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='make_demo_data.py'):
        WebVidDataset(ann_file=str(tmp_path / 'nope.csv'))


def test_unknown_extension(tmp_path):
    ann = tmp_path / 'a.txt'
    ann.write_text('x')
    with pytest.raises(AnnotationError, match="unknown WebVid.*'.txt'"):
        WebVidDataset(ann_file=str(ann))


def test_alpro_pickled_dataframe(tmp_path):
    pandas = pytest.importorskip('pandas')
    frame = pandas.DataFrame({
        'video_id': ['1066674784', 'sub/1066674785', '1066674786'],
        'text': ['a dog runs', 'x' * 90, 'clouds drift'],
        'txt_len': [3, 85, 2],
    })
    ann = tmp_path / 'train.pkl'
    with open(ann, 'wb') as f:
        pickle.dump(frame, f)
    dataset = WebVidDataset(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path)))
    # rows with txt_len >= 80 are dropped, as ALPRO does
    assert len(dataset) == 2
    assert dataset.get_data_info(0)['video_path'] == str(tmp_path /
                                                         '1066674784.mp4')
    assert dataset.get_data_info(1)['text'] == 'clouds drift'

    frame.loc[0, 'video_id'] = '../../outside'
    with open(ann, 'wb') as f:
        pickle.dump(frame, f)
    with pytest.raises(AnnotationError, match=r'train\.pkl, row 0.*escapes'):
        WebVidDataset(ann_file=str(ann), data_prefix=dict(video=str(tmp_path)))


def test_alpro_pickle_with_a_missing_caption_and_string_dtype(tmp_path):
    pandas = pytest.importorskip('pandas')
    frame = pandas.DataFrame({
        'video_id': [f'{i}' for i in range(200)],
        'text': [f'clip {i}' for i in range(200)],
        'txt_len': [2] * 200,
    })
    frame.loc[5, 'text'] = None
    frame.to_pickle(tmp_path / 'train.pkl')
    dataset = WebVidDataset(ann_file=str(tmp_path / 'train.pkl'))
    assert len(dataset) == 199
    assert dataset.row_reports[0].bad == [(5, 'empty caption')]


class Payload:
    """Runs ``os.mkdir(path)`` when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path, )


def test_pickle_that_would_run_code_is_refused(tmp_path):
    pytest.importorskip('pandas')
    ann = tmp_path / 'train.pkl'
    with open(ann, 'wb') as f:
        pickle.dump(Payload(str(tmp_path / 'ran')), f)
    with pytest.raises(
            AnnotationError,
            match=r"train\.pkl: refusing to load the global "
            r"'(posix|os)\.mkdir'"):
        WebVidDataset(ann_file=str(ann))
    assert not (tmp_path / 'ran').exists()
    with open(ann, 'wb') as f:
        pickle.dump(dict(a=1), f)
    with pytest.raises(
            AnnotationError,
            match='expected a pickled pandas '
            'DataFrame, got dict'):
        WebVidDataset(ann_file=str(ann))


def test_pickle_written_by_pandas_1_names(tmp_path):
    """ALPRO's release was pickled by pandas 1.x and numpy 1.x, whose class
    paths moved since; the restricted reader admits and maps them."""
    pandas = pytest.importorskip('pandas')
    frame = pandas.DataFrame({
        'video_id': ['1066674784', '1066674785'],
        'text': ['a dog runs', 'clouds drift'],
        'txt_len': [3, 2],
    }).astype({
        'video_id': object,
        'text': object
    })
    data = pickle.dumps(frame, protocol=3)  # protocol 3 names by GLOBAL
    for new, old in ((b'pandas\nDataFrame', b'pandas.core.frame\nDataFrame'),
                     (b'pandas\nIndex', b'pandas.core.indexes.numeric\n'
                      b'Int64Index'), (b'numpy._core.multiarray\n',
                                       b'numpy.core.multiarray\n')):
        assert new in data
        data = data.replace(new, old)
    (tmp_path / 'train.pkl').write_bytes(data)
    dataset = WebVidDataset(ann_file=str(tmp_path / 'train.pkl'))
    assert [dataset.get_data_info(i)['text']
            for i in range(2)] == ['a dog runs', 'clouds drift']


def test_pickle_without_pandas_says_what_to_do(tmp_path, monkeypatch):
    ann = tmp_path / 'train.pkl'
    ann.write_bytes(b'not read')
    monkeypatch.setitem(sys.modules, 'pandas', None)  # as if not installed
    with pytest.raises(
            ImportError, match='pip install pandas.*official '
            'WebVid CSV'):
        WebVidDataset(ann_file=str(ann))


def test_videos_that_are_symlinks_into_a_shared_store(tmp_path):
    store = tmp_path / 'store'
    write_video(store / 'abc.mp4', num_frames=4)
    root = tmp_path / 'data/videos'
    (root / '001_050').mkdir(parents=True)
    os.symlink(store / 'abc.mp4', root / '001_050/101.mp4')
    ann = write_csv(tmp_path / 'ann.csv', [
        ['101', 'u', 'PT00H00M01S', '001_050', 'a red square'],
        ['102', 'u', 'PT00H00M01S', 'x/../001_050', 'the same link'],
    ])
    dataset = WebVidDataset(
        ann_file=str(ann),
        data_prefix=dict(video=str(root)),
        pipeline=[
            dict(type='DecordInit'),
            dict(type='SampleFrames', num_frames=2),
            dict(type='DecordDecode'),
            dict(type='PackVideoTextInputs')
        ])
    assert dataset.get_data_info(0)['video_path'] == str(root /
                                                         '001_050/101.mp4')
    assert dataset.get_data_info(1)['video_path'] == str(
        root / '001_050/102.mp4')  # normalised as written
    out = dataset[0]
    assert out['data_samples'].replaced == []
    assert out['inputs'].shape[0] == 2
