"""VideoQADataset: ALPRO's QA jsonl, answer vocabulary, OOV answers."""
import json

import pytest

from alpro.datasets import AnnotationError, VideoQADataset
from alpro.datasets.video_qa import build_answer_vocab
from alpro.registry import DATASETS

TRAIN = [
    ('what is a man doing', 'singing', 'video1', 'what'),
    ('who is singing', 'man', 'video1', 'who'),
    ('what is a woman doing', 'singing', 'video2', 'what'),
    ('where is the dog', 'park', 'video2', 'where'),
    ('how many cats are there', 'two', 'video3', 'how'),
]


def write_qa(path, rows):
    path.write_text(''.join(
        json.dumps(dict(question=q, answer=a, video_id=v, answer_type=t)) +
        '\n' for q, a, v, t in rows))
    return path


def test_vocab_counted_from_training_answers(tmp_path):
    ann = write_qa(tmp_path / 'train.jsonl', TRAIN)
    dataset = VideoQADataset(
        ann_file=str(ann),
        answer_vocab_size=3,
        data_prefix=dict(video=str(tmp_path)))
    # singing (2), then the ties alphabetically: man, park (two dropped)
    assert dataset.ans2label == {'singing': 0, 'man': 1, 'park': 2}
    assert dataset.label2ans == {0: 'singing', 1: 'man', 2: 'park'}
    assert dataset.metainfo['ans2label'] == dataset.ans2label
    assert len(dataset) == 4  # 'two' is out of the vocabulary: dropped
    info = dataset.get_data_info(1)
    assert info['text'] == 'who is singing'
    assert (info['answer'], info['answer_label'],
            info['answer_type']) == ('man', 1, 'who')
    assert info['video_path'] == str(tmp_path / 'video1.mp4')
    assert info['question_id'] == 1


def test_build_answer_vocab_ties_alphabetical():
    assert build_answer_vocab(['b', 'a', 'c', 'c'], 2) == {'c': 0, 'a': 1}


def test_oov_dropped_in_train_kept_in_test(tmp_path):
    vocab = tmp_path / 'train_ans2label.json'
    vocab.write_text(json.dumps({'singing': 0, 'man': 1}))
    ann = write_qa(tmp_path / 'test.jsonl', TRAIN)
    train = VideoQADataset(ann_file=str(ann), ans2label_file=str(vocab))
    assert len(train) == 3
    assert [train.get_data_info(i)['answer'] for i in range(3)] == \
        ['singing', 'man', 'singing']
    test = DATASETS.build(
        dict(
            type='VideoQADataset',
            ann_file=str(ann),
            ans2label_file=str(vocab),
            video_ext='.avi',
            test_mode=True,
            data_prefix=dict(video=str(tmp_path))))
    assert len(test) == 5
    labels = [test.get_data_info(i)['answer_label'] for i in range(5)]
    assert labels == [0, 1, 0, -1, -1]
    assert test.get_data_info(4)['video_path'] == str(tmp_path / 'video3.avi')
    assert test.metainfo['label2ans'] == {0: 'singing', 1: 'man'}


def test_test_set_needs_training_vocab(tmp_path):
    train = write_qa(tmp_path / 'train.jsonl', TRAIN)
    test = write_qa(tmp_path / 'test.jsonl',
                    [('what is it', 'cake', 'video9', 'what')])
    with pytest.raises(ValueError, match='ans2label_file'):
        VideoQADataset(ann_file=str(test), test_mode=True)
    dataset = VideoQADataset(
        ann_file=str(test), vocab_ann_file=str(train), test_mode=True)
    assert dataset.get_data_info(0)['answer_label'] == -1
    assert len(dataset.ans2label) == 4


def test_unknown_answer_type_is_other(tmp_path):
    ann = tmp_path / 'train.jsonl'
    ann.write_text(
        json.dumps(dict(question='q', answer='a', video_id='v')) + '\n')
    dataset = VideoQADataset(ann_file=str(ann))
    assert dataset.get_data_info(0)['answer_type'] == 'other'


@pytest.mark.parametrize('line, problem', [
    ('{"question": "q", "answer": "a"}', 'video_id'),
    ('{"question": " ", "answer": "a", "video_id": "v"}', 'question'),
    ('{"question": "q", "answer": "", "video_id": "v"}', 'empty answer'),
    ('not json', 'not valid JSON'),
])
def test_malformed_line_names_file_and_line(tmp_path, line, problem):
    ann = tmp_path / 'train.jsonl'
    vocab = tmp_path / 'ans2label.json'
    vocab.write_text('{"a": 0}')
    ann.write_text('{"question": "q", "answer": "a", "video_id": "v"}\n' +
                   line + '\n')
    with pytest.raises(
            AnnotationError, match=rf'train\.jsonl, line 2: .*{problem}'):
        VideoQADataset(ann_file=str(ann), ans2label_file=str(vocab))


def test_bad_ans2label_and_path_escape(tmp_path):
    ann = write_qa(tmp_path / 'train.jsonl', [('q', 'a', '../x', 'what')])
    vocab = tmp_path / 'ans2label.json'
    vocab.write_text('{"a": 1}')
    with pytest.raises(AnnotationError, match=r'ans2label\.json.*indices'):
        VideoQADataset(ann_file=str(ann), ans2label_file=str(vocab))
    with pytest.raises(AnnotationError, match='escapes'):
        VideoQADataset(
            ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'v')))


def test_packer_carries_answer_fields(tmp_path):
    import torch

    from alpro.datasets.transforms import PackVideoTextInputs
    ann = write_qa(tmp_path / 'train.jsonl', TRAIN[:2])
    info = VideoQADataset(ann_file=str(ann)).get_data_info(1)
    info['imgs'] = torch.zeros((2, 3, 4, 4), dtype=torch.uint8)
    packed = PackVideoTextInputs(
        meta_keys=('video_id', 'answer_type'), data_keys=('answer_label', ))(
            info)
    sample = packed['data_samples']
    assert sample.metainfo['answer_type'] == 'who'
    assert int(sample.answer_label) == info['answer_label'] == 0
