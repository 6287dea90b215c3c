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


GOOGLE_TSV = ('a "quoted" caption\thttp://x/0.jpg\n'
              'second caption\thttp://x/1.jpg\n'
              'third caption\thttp://x/2.jpg\n'
              'fourth caption\thttp://x/3.jpg\n')
URLS = [f'http://x/{i}.jpg' for i in range(4)]


def write_images(folder, names):
    """Real JPEG files (a 2 x 2 image each) under ``folder``."""
    from PIL import Image
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (2, 2), (200, 0, 0)).save(path, format='JPEG')


def tsv_dataset(tmp_path, names, text=GOOGLE_TSV, **kwargs):
    tmp_path.mkdir(exist_ok=True)
    ann = tmp_path / 'Train_GCC-training.tsv'
    ann.write_text(text)
    images = tmp_path / 'images'
    write_images(images, names)
    return CC3MDataset(
        ann_file=str(ann),
        data_prefix=dict(img=str(images)),
        max_bad_row_ratio=0.5,
        **kwargs)


def img_paths(dataset):
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


@pytest.mark.parametrize('names', [
    ['0.jpg', '1.jpg', '3.jpg'],
    ['000000.jpg', '000001.jpg', '000003.jpg'],
    ['00000.png', '00001.png', '00003.png'],
])
def test_google_tsv_with_index_names_of_any_padding(tmp_path, names):
    dataset = tsv_dataset(tmp_path, names)
    # row 2 was never downloaded: left out in training, counted
    assert img_paths(dataset) == [str(tmp_path / 'images' / n) for n in names]
    assert [dataset.get_data_info(i)['text'] for i in range(3)
            ] == ['a "quoted" caption', 'second caption', 'fourth caption']
    report = dataset.row_reports[0]
    assert [
        lines for reason, lines in report.skipped.items()
        if 'image not downloaded' in reason
    ] == [[3]]
    # at evaluation the row stays, left out, for the metric to count
    test = CC3MDataset(
        ann_file=str(tmp_path / 'Train_GCC-training.tsv'),
        data_prefix=dict(img=str(tmp_path / 'images')),
        test_mode=True)
    assert len(test) == 4
    assert 'image not downloaded' in test[2]['data_samples'].left_out


@pytest.mark.parametrize('ext', ['', '.jpg'])
def test_google_tsv_with_lavis_index_crc_names(tmp_path, ext):
    from alpro.datasets.cc3m_images import url_crc
    names = [f'{i}_{url_crc(URLS[i])}{ext}' for i in (0, 1, 2, 3)]
    names[2] = f'2_{url_crc("http://elsewhere")}{ext}'  # not this row's url
    dataset = tsv_dataset(tmp_path, names)
    assert img_paths(dataset) == [
        str(tmp_path / 'images' / names[i]) for i in (0, 1, 3)
    ]
    bad = dataset.row_reports[0].bad
    assert len(bad) == 1 and bad[0][0] == 3 and 'another url' in bad[0][1]


def test_google_tsv_with_img2dataset_output(tmp_path):
    # img2dataset reads a TSV with a header line; with 2 rows per shard its
    # keys are the 5-digit shard and a 1-digit index in the shard
    text = 'caption\turl\n' + GOOGLE_TSV
    root = tmp_path / 'images'
    for row, shard, key in ((0, '00000', '000000'), (1, '00000', '000001'),
                            (3, '00001', '000011')):
        (root / shard).mkdir(parents=True, exist_ok=True)
        (root / shard / f'{key}.json').write_text(
            json.dumps(dict(url=URLS[row], caption='c', status='success')))
        (root / shard / f'{key}.txt').write_text('c')
        write_images(root / shard, [f'{key}.jpg'])
    (root / '00000.parquet').write_text('not read')
    dataset = tsv_dataset(tmp_path, [], text=text, rows_per_shard=2)
    assert img_paths(dataset) == [
        str(root / '00000/000000.jpg'),
        str(root / '00000/000001.jpg'),
        str(root / '00001/000011.jpg')
    ]
    assert dataset.get_data_info(2)['text'] == 'fourth caption'
    # the sidecars say when key and row disagree
    with pytest.raises(AnnotationError, match='number_sample_per_shard'):
        tsv_dataset(tmp_path, [], text=text)  # the default 10000 per shard


def test_google_tsv_with_a_name_template(tmp_path):
    from alpro.datasets.cc3m_images import url_crc
    names = [f'{url_crc(url)}.jpg' for url in URLS]
    dataset = tsv_dataset(tmp_path, names, image_name='{crc}.jpg')
    assert img_paths(dataset) == [str(tmp_path / 'images' / n) for n in names]
    dataset = tsv_dataset(
        tmp_path / 'padded', ['00000.jpg', '00001.jpg'],
        image_name='{index:05d}.jpg')
    assert len(dataset) == 2
    with pytest.raises(ValueError, match=r"fields \['index', 'crc'\]"):
        tsv_dataset(tmp_path, names, image_name='{key}.jpg')


def test_google_tsv_without_images_says_what_it_looked_for(tmp_path):
    with pytest.raises(AnnotationError, match='LAVIS / ClipCap'):
        tsv_dataset(tmp_path, ['cat.jpg'])
    with pytest.raises(FileNotFoundError, match='image folder'):
        CC3MDataset(
            ann_file=str(tmp_path / 'Train_GCC-training.tsv'),
            data_prefix=dict(img=str(tmp_path / 'nowhere')))


def test_images_decode_through_the_pipeline(tmp_path):
    dataset = tsv_dataset(
        tmp_path, ['0.jpg', '1.jpg', '2.jpg', '3.jpg'],
        pipeline=[
            dict(type='LoadImageAsClip', num_frames=2),
            dict(type='PackVideoTextInputs')
        ])
    out = dataset[1]
    assert out['inputs'].shape == (2, 3, 2, 2)
    assert out['data_samples'].text == 'second caption'


def test_tsv_malformed_line(tmp_path):
    ann = tmp_path / 'c.tsv'
    ann.write_text('ok\thttp://x\nno url here\n')
    with pytest.raises(AnnotationError, match=r'c\.tsv, line 2'):
        CC3MDataset(ann_file=str(ann))
    # without an image root (the entity tool reads captions only)
    ann.write_text('ok\thttp://x\n' * 99 + 'no url here\n')
    assert len(CC3MDataset(ann_file=str(ann))) == 99


def test_json_path_escape_refused(tmp_path):
    ann = tmp_path / 'c.json'
    ann.write_text(json.dumps([{'image': '../x.jpg', 'caption': 'x'}]))
    with pytest.raises(AnnotationError, match='escapes'):
        CC3MDataset(ann_file=str(ann), data_prefix=dict(img=str(tmp_path)))


def test_caption_pick_is_a_function_of_seed_epoch_and_index(tmp_path):
    """Bound to a SampleSeed (as a SeededSampler binds it), the training
    caption depends on (seed, epoch, rank, index) only, not on NumPy's
    global state (a worker's): resume is exact for CC3M too."""
    from alpro.datasets.sample_seed import SampleSeed, bind_sample_seed
    captions = [f'caption {i}' for i in range(50)]
    ann = tmp_path / 'cc3m.json'
    ann.write_text(json.dumps([{'image': 'a.jpg', 'caption': captions}] * 4))

    def picks(epoch, global_seed):
        dataset = CC3MDataset(ann_file=str(ann))
        seed = SampleSeed(seed=7)
        assert bind_sample_seed(dataset, seed) == 1
        seed.set_epoch(epoch)
        np.random.seed(global_seed)
        return [dataset.get_data_info(i)['text'] for i in range(4)]

    assert picks(0, global_seed=1) == picks(0, global_seed=2)
    assert picks(0, global_seed=1) != picks(1, global_seed=1)
    assert len(set(picks(0, global_seed=1))) > 1  # differs by index
