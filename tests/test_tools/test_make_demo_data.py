"""Tests of tools/data/make_demo_data.py on a tiny corpus."""
import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import cv2
import decord
import numpy as np
import pytest

from tests.tool_modules import load_tool

# in sys.modules under its name, so that the forked pool workers unpickle
# its functions
mdd = load_tool('tools/data/make_demo_data.py')
SCRIPT = Path(mdd.__file__)

SIZE, FRAMES, VIDEOS, IMAGES = 32, 8, 24, 6
ARGS = [
    '--num-videos',
    str(VIDEOS), '--num-images',
    str(IMAGES), '--size',
    str(SIZE), '--num-frames',
    str(FRAMES)
]
HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']
TEXT_FILES = [
    'annotations/results_demo_train.csv', 'annotations/results_demo_val.csv',
    'annotations/cc3m_demo.json', 'annotations/cc3m_demo.tsv', 'meta.json',
    'tokenizer/tokenizer.json', 'tokenizer/tokenizer_config.json'
]


@pytest.fixture(scope='module')
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed 0, built in-process with a pool of two workers."""
    out = tmp_path_factory.mktemp('demo') / 'seed0'
    mdd.main(['--out', str(out), '--seed', '0', '--workers', '2', *ARGS])
    return out


@pytest.fixture(scope='module')
def corpus_again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed 0 again, through the command line in a fresh process."""
    out = tmp_path_factory.mktemp('demo') / 'seed0_again'
    result = subprocess.run([
        sys.executable,
        str(SCRIPT), '--out',
        str(out), '--seed', '0', '--workers', '1', *ARGS
    ],
                            capture_output=True,
                            text=True,
                            check=True)
    assert str(out) in result.stdout
    return out


@pytest.fixture(scope='module')
def corpus_seed1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed 1, built in-process."""
    out = tmp_path_factory.mktemp('demo') / 'seed1'
    mdd.main(['--out', str(out), '--seed', '1', *ARGS])
    return out


def read_rows(root: Path, split: str) -> List[Dict[str, str]]:
    """Rows of one split's WebVid CSV."""
    path = root / 'annotations' / f'results_demo_{split}.csv'
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def words(text: str) -> List[str]:
    """Lower-cased words of ``text``."""
    return re.findall(r'[a-z]+', text.lower())


def only(names, text: str) -> str:
    """The one name of ``names`` that occurs as a word of ``text``."""
    found = [name for name in names if name in words(text)]
    assert len(found) == 1, (found, text)
    return found[0]


def decode(root: Path, row: Dict[str, str]) -> np.ndarray:
    """All frames of a clip as a ``(T, H, W, 3)`` RGB array."""
    path = root / 'videos' / row['page_dir'] / f'{row["videoid"]}.mp4'
    assert path.is_file(), path
    reader = decord.VideoReader(str(path))
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def test_csv_layout(corpus: Path):
    meta = json.loads((corpus / 'meta.json').read_text())
    ids = []
    for split in ('train', 'val'):
        path = corpus / 'annotations' / f'results_demo_{split}.csv'
        assert path.read_text().splitlines()[0] == ','.join(HEADER)
        rows = read_rows(corpus, split)
        assert len(rows) == meta['counts'][split]
        for row in rows:
            assert re.fullmatch(r'\d{10}', row['videoid'])
            assert row['videoid'] in row['contentUrl']
            assert row['duration'] == 'PT00H00M01S'
            assert re.fullmatch(r'\d{6}_\d{6}', row['page_dir'])
            ids.append(row['videoid'])
    assert meta['counts']['val'] == round(0.2 * VIDEOS)
    assert meta['counts']['train'] + meta['counts']['val'] == VIDEOS
    assert len(set(ids)) == VIDEOS
    assert (meta['size'], meta['num_frames'], meta['fps']) == (SIZE, FRAMES, 8)


def test_videos_decode(corpus: Path):
    for split in ('train', 'val'):
        for row in read_rows(corpus, split):
            frames = decode(corpus, row)
            assert frames.shape == (FRAMES, SIZE, SIZE, 3)


def test_heldout_pairs_and_captions(corpus: Path):
    meta = json.loads((corpus / 'meta.json').read_text())
    pairs = {}
    for split in ('train', 'val'):
        pairs[split] = set()
        for row in read_rows(corpus, split):
            caption = row['name']
            colour = only(meta['colours'], caption)
            shape = only(meta['shapes'], caption)
            pairs[split].add((colour, shape))
    heldout = {tuple(pair) for pair in meta['heldout_pairs']}
    assert pairs['val'] <= heldout
    assert not pairs['train'] & heldout
    assert {c for c, _ in pairs['train']} == set(meta['colours'])
    assert {s for _, s in pairs['train']} == set(meta['shapes'])
    assert 0.15 <= len(heldout) / (len(meta['colours']) *
                                   len(meta['shapes'])) <= 0.2


def test_specs_match_csv_and_name_direction(corpus: Path):
    specs = {spec.videoid: spec for spec in mdd.build_clip_specs(0, VIDEOS)}
    for split in ('train', 'val'):
        for row in read_rows(corpus, split):
            spec = specs[row['videoid']]
            assert (spec.split, spec.page_dir,
                    spec.caption) == (split, row['page_dir'], row['name'])
            caption = words(spec.caption)
            assert spec.colour in caption and spec.shape in caption
            for part in spec.direction.split('-'):  # 'up' for 'upward' too
                assert any(word.startswith(part)
                           for word in caption), (spec.direction, spec.caption)
            assert any(phrase in spec.caption.lower()
                       for phrase in mdd.DIRECTION_PHRASES[spec.direction])


def test_frames_show_named_colour_moving(corpus: Path):
    """The named colour's blob moves the named way in the decoded clip."""
    for spec in mdd.build_clip_specs(0, VIDEOS):
        frames = decode(corpus,
                        dict(videoid=spec.videoid, page_dir=spec.page_dir))
        colour = np.array(mdd.COLOURS[spec.colour], np.float32)
        centroids = []
        for frame in (frames[0], frames[-1]):
            distance = np.linalg.norm(
                frame.astype(np.float32) - colour, axis=-1)
            ys, xs = np.nonzero(distance < 60)
            assert len(xs) >= 5, spec
            centroids.append(np.array([xs.mean(), ys.mean()]))
        moved = centroids[1] - centroids[0]
        for step, delta in zip(mdd.DIRECTIONS[spec.direction], moved):
            if step:
                assert step * delta > 0.2 * SIZE, (spec, moved)
            else:
                assert abs(delta) < 0.1 * SIZE, (spec, moved)


def test_image_annotations(corpus: Path):
    records = json.loads(
        (corpus / 'annotations' / 'cc3m_demo.json').read_text())
    rows = (corpus / 'annotations' /
            'cc3m_demo.tsv').read_text(encoding='utf-8').splitlines()
    assert len(records) == len(rows) == IMAGES
    assert sorted(p.name for p in (corpus / 'images').iterdir()) == [
        f'{i:06d}.jpg' for i in range(IMAGES)
    ]
    kinds = set()
    for i, (record, row) in enumerate(zip(records, rows)):
        assert record['image'] == f'images/{i:06d}.jpg'
        image = cv2.imread(str(corpus / record['image']))
        assert image.shape == (SIZE, SIZE, 3)
        caption, url = row.split('\t')
        assert url.startswith('https://')
        if isinstance(record['caption'], str):
            kinds.add('str')
            assert caption == record['caption']
        else:
            kinds.add('list')
            assert 2 <= len(record['caption']) <= 3
            assert caption == record['caption'][0]
    assert kinds == {'str', 'list'}


def test_tokenizer_round_trip(corpus: Path):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(str(corpus / 'tokenizer'))
    for row in read_rows(corpus, 'val'):
        ids = tokenizer(row['name'])['input_ids']
        assert ids[0] == tokenizer.cls_token_id
        assert ids[-1] == tokenizer.sep_token_id
        assert tokenizer.unk_token_id not in ids
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        assert words(decoded) == words(row['name'])
        assert decoded == decoded.lower()


def test_every_direction_word_is_one_token(corpus: Path):
    """Even the words this small corpus never wrote: the demo configs'
    order-aware objective swaps them."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(str(corpus / 'tokenizer'))
    phrases = [p for group in mdd.DIRECTION_PHRASES.values() for p in group]
    for word in {w for p in phrases for w in p.replace('-', ' ').split()}:
        assert tokenizer.tokenize(word) == [word]


@pytest.mark.slow
def test_same_seed_is_identical(corpus: Path, corpus_again: Path):
    for name in TEXT_FILES:
        assert (corpus / name).read_bytes() == (corpus_again /
                                                name).read_bytes(), name
    row = read_rows(corpus, 'val')[0]
    np.testing.assert_array_equal(
        decode(corpus, row), decode(corpus_again, row))


def test_other_seed_differs(corpus: Path, corpus_seed1: Path):

    def captions(root: Path) -> List[str]:
        return [row['name'] for row in read_rows(root, 'train')]

    assert captions(corpus) != captions(corpus_seed1)


@pytest.mark.parametrize('args', [['--num-videos', '4'], ['--size', '33']])
def test_rejects_bad_arguments(tmp_path: Path, args: List[str]):
    with pytest.raises(SystemExit):
        mdd.main(['--out', str(tmp_path), *args])


# ------------------------------------------------- fine-tuning formats


def read_jsonl(path: Path) -> List[dict]:
    """Records of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_downstream_files_parse_with_readers(corpus: Path):
    from alpro.datasets import (DiDeMoRetrievalDataset, MSRVTTRetrievalDataset,
                                VideoQADataset)
    ann = corpus / 'annotations'
    prefix = dict(video=str(corpus / 'videos'))
    meta = json.loads((corpus / 'meta.json').read_text())
    splits = dict(train='train', val='val', test='val')
    for split, clip_split in splits.items():
        dataset = MSRVTTRetrievalDataset(
            ann_file=str(ann / f'msrvtt_ret/{split}.jsonl'),
            data_prefix=prefix)
        assert len(dataset) == meta['counts'][clip_split]
        rows = read_rows(corpus, clip_split)
        for i, row in enumerate(rows):
            info = dataset.get_data_info(i)
            assert info['text'] == row['name']
            assert Path(info['video_path']).is_file()
    for split, clip_split in (('train', 'train'), ('test', 'val')):
        dataset = DiDeMoRetrievalDataset(
            ann_file=str(ann / f'didemo_ret/{split}.jsonl'),
            data_prefix=prefix)
        assert len(dataset) == meta['counts'][clip_split]
        for record in read_jsonl(ann / f'didemo_ret/{split}.jsonl'):
            assert 2 <= len(record['caption']) <= 3
        assert Path(dataset.get_data_info(0)['video_path']).is_file()
    vocab = str(ann / 'demo_qa/train_ans2label.json')
    train = VideoQADataset(
        ann_file=str(ann / 'demo_qa/train.jsonl'),
        ans2label_file=vocab,
        data_prefix=prefix)
    assert len(train) == 4 * meta['counts']['train']  # none out of vocab
    counted = VideoQADataset(
        ann_file=str(ann / 'demo_qa/train.jsonl'), data_prefix=prefix)
    assert counted.ans2label == train.ans2label
    test = VideoQADataset(
        ann_file=str(ann / 'demo_qa/test.jsonl'),
        ans2label_file=vocab,
        test_mode=True,
        data_prefix=prefix)
    assert len(test) == 4 * meta['counts']['val']
    for i in range(len(test)):
        info = test.get_data_info(i)
        assert Path(info['video_path']).is_file()
        expected = test.ans2label.get(info['answer'], -1)
        assert info['answer_label'] == expected
        # every colour and shape occurs in train
        if info['answer'] in meta['colours'] or info['answer'] in meta[
                'shapes']:
            assert expected >= 0


def test_downstream_answers_match_specs(corpus: Path):
    specs = {
        f'{spec.page_dir}/{spec.videoid}': spec
        for spec in mdd.build_clip_specs(0, VIDEOS)
    }
    heldout = {tuple(pair) for pair in mdd.heldout_pairs(0)}
    ann = corpus / 'annotations'
    for split, clip_split in (('train', 'train'), ('test', 'val')):
        records = read_jsonl(ann / f'demo_qa/{split}.jsonl')
        seen = set()
        for record in records:
            spec = specs[record['video_id']]
            assert spec.split == clip_split
            seen.add(record['video_id'])
            question = record['question']
            if question.startswith('what color'):
                expected, kind = spec.colour, 'what'
                assert spec.shape in words(question)
            elif question == 'what shape is moving':
                expected, kind = spec.shape, 'what'
            elif question.startswith('which way'):
                expected, kind = spec.direction, 'where'
            else:
                assert question.startswith('what is behind')
                expected, kind = spec.background, 'what'
            assert (record['answer'], record['answer_type']) == (expected,
                                                                 kind)
        assert len(records) == 4 * len(seen)
        for record in read_jsonl(ann / f'didemo_ret/{split}.jsonl'):
            spec = specs[record['clip_name']]
            assert spec.split == clip_split
            paragraph = ' '.join(record['caption'])
            assert spec.colour in words(paragraph)
            assert spec.shape in words(paragraph)
            assert any(p in paragraph
                       for p in mdd.DIRECTION_PHRASES[spec.direction])
        for msrvtt_split in (['train']
                             if split == 'train' else ['val', 'test']):
            for record in read_jsonl(ann / f'msrvtt_ret/{msrvtt_split}.jsonl'):
                spec = specs[record['clip_name']]
                assert spec.split == clip_split
                assert record['caption'] == spec.caption
                # held-out colour-shape pairs occur only in test files
                assert ((spec.colour, spec.shape) in heldout) == (
                    split == 'test')
    train_answers = [
        r['answer'] for r in read_jsonl(ann / 'demo_qa/train.jsonl')
    ]
    ans2label = json.loads((ann / 'demo_qa/train_ans2label.json').read_text())
    assert ans2label == mdd.answer_vocab(train_answers)
    assert sorted(ans2label.values()) == list(range(len(set(train_answers))))


@pytest.mark.slow
def test_downstream_files_are_deterministic(corpus: Path, corpus_again: Path):
    for name in ('msrvtt_ret/train.jsonl', 'msrvtt_ret/test.jsonl',
                 'didemo_ret/train.jsonl', 'demo_qa/test.jsonl',
                 'demo_qa/train_ans2label.json'):
        assert (corpus / 'annotations' /
                name).read_bytes() == (corpus_again / 'annotations' /
                                       name).read_bytes(), name
