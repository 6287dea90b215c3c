"""CC3MDataset: ALPRO's JSON and the original TSV."""
import json

import numpy as np
import pytest

from alpro.datasets import AnnotationError, CC3MDataset


def test_alpro_json_with_string_and_list_captions(tmp_path):
    ann = tmp_path / 'cc3m.json'
    ann.write_text(
        json.dumps([
            {
                'image': 'img/0.jpg',
                'caption': 'a cat on a mat'
            },
            {
                'image': 'img/1.jpg',
                'caption': ['one dog', 'a dog', 'dog']
            },
        ]))
    train = CC3MDataset(ann_file=str(ann), data_prefix=dict(img=str(tmp_path)))
    assert len(train) == 2
    assert train.get_data_info(0)['img_path'] == str(tmp_path / 'img/0.jpg')
    assert train.get_data_info(0)['text'] == 'a cat on a mat'
    np.random.seed(0)
    drawn = {train.get_data_info(1)['text'] for _ in range(40)}
    assert drawn == {'one dog', 'a dog', 'dog'}  # a random one in training
    test = CC3MDataset(ann_file=str(ann), test_mode=True)
    assert {test.get_data_info(1)['text'] for _ in range(10)} == {'one dog'}
    assert test.get_data_info(0)['img_path'] == 'img/0.jpg'  # as given


@pytest.mark.parametrize('record', [{
    'image': 'a.jpg'
}, {
    'image': 'a.jpg',
    'caption': ''
}, {
    'caption': 'x'
}, ['a.jpg', 'x'], {
    'image': 'a.jpg',
    'caption': ['ok', 3]
}])
def test_alpro_json_malformed_record(tmp_path, record):
    ann = tmp_path / 'c.json'
    ann.write_text(json.dumps([{'image': 'ok.jpg', 'caption': 'ok'}, record]))
    with pytest.raises(AnnotationError, match=r'c\.json, record 1'):
        CC3MDataset(ann_file=str(ann))


def test_invalid_json_names_line(tmp_path):
    ann = tmp_path / 'c.json'
    ann.write_text('[\n{"image": "a.jpg",\n "caption": }]')
    with pytest.raises(AnnotationError, match=r'c\.json, line 3'):
        CC3MDataset(ann_file=str(ann))


def test_original_tsv(tmp_path):
    ann = tmp_path / 'Train_GCC-training.tsv'
    ann.write_text('a "quoted" caption\thttp://x/1.jpg\n'
                   'second caption\thttp://x/2.jpg\n')
    dataset = CC3MDataset(
        ann_file=str(ann),
        data_prefix=dict(img=str(tmp_path)),
        image_name='{index:05d}.jpg')
    assert len(dataset) == 2
    info = dataset.get_data_info(1)
    assert info['img_path'] == str(tmp_path / '00001.jpg')
    assert info['text'] == 'second caption'
    assert dataset.get_data_info(0)['text'] == 'a "quoted" caption'


def test_tsv_malformed_line(tmp_path):
    ann = tmp_path / 'c.tsv'
    ann.write_text('ok\thttp://x\nno url here\n')
    with pytest.raises(AnnotationError, match=r'c\.tsv, line 2'):
        CC3MDataset(ann_file=str(ann))


def test_json_path_escape_refused(tmp_path):
    ann = tmp_path / 'c.json'
    ann.write_text(json.dumps([{'image': '../x.jpg', 'caption': 'x'}]))
    with pytest.raises(AnnotationError, match='escapes'):
        CC3MDataset(ann_file=str(ann), data_prefix=dict(img=str(tmp_path)))
