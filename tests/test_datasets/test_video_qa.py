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


def test_answer_types_are_never_folded_into_another(tmp_path):
    ann = tmp_path / 'train.jsonl'
    rows = [
        dict(question='which dog runs', answer='a', video_id='v'),
        dict(
            question='whose hat is it',
            answer='a',
            video_id='v',
            answer_type='whose'),
        dict(question='what runs', answer='a', video_id='v'),
    ]
    ann.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    dataset = VideoQADataset(ann_file=str(ann))
    # a missing type is the question's wh-word, an unknown one keeps its name
    assert [dataset.get_data_info(i)['answer_type']
            for i in range(3)] == ['which', 'whose', 'what']
    assert dataset.answer_type_counts == dict(which=1, whose=1, what=1)
    ann.write_text(
        json.dumps(
            dict(question='q', answer='a', video_id='v', answer_type=3)) +
        '\n')
    with pytest.raises(
            AnnotationError, match='line 1: empty or non-string '
            'answer_type'):
        VideoQADataset(ann_file=str(ann))


def test_unknown_answer_type_has_its_own_accuracy():
    from alpro.evaluation import VideoQAMetric
    metric = VideoQAMetric()
    metric.process(
        dict(data_samples=[]), [
            dict(pred_label=0, answer_label=0, answer_type='which'),
            dict(pred_label=1, answer_label=0, answer_type='what'),
        ])
    metrics = metric.evaluate(2)
    assert metrics['qa/acc_which'] == 100.0 and metrics['qa/acc_what'] == 0
    assert 'qa/acc_other' not in metrics


def write_public(path, rows):
    """The authors' {split}_qa.json: a list with integer video ids."""
    path.write_text(
        json.dumps([
            dict(question=q, answer=a, video_id=v, id=i)
            for i, (q, a, v) in enumerate(rows)
        ]))
    return path


def test_msrvtt_qa_public_json(tmp_path):
    train = write_public(tmp_path / 'train_qa.json', [
        ('what is a man doing', 'sing', 7010),
        ('who is singing', 'man', 7010),
        ('what is a woman doing', 'sing', 7011),
        ('what is in the sky', 'bird', 7011),
    ])
    dataset = VideoQADataset(
        ann_file=str(train),
        answer_vocab_size=2,
        video_name='video{video_id}',
        data_prefix=dict(video=str(tmp_path)))
    # the 2 most frequent training answers: sing (2), then the tie of bird
    # and man, broken alphabetically
    assert dataset.ans2label == {'sing': 0, 'bird': 1}
    assert len(dataset) == 3  # 'man' is out of the vocabulary: left out
    info = dataset.get_data_info(2)
    assert info['video_path'] == str(tmp_path / 'video7011.mp4')
    assert (info['question_id'], info['answer_type'],
            info['answer_label']) == (3, 'what', 1)
    test = write_public(tmp_path / 'test_qa.json',
                        [('who is singing', 'man', 7012),
                         ('what is in the sky', 'bird', 7012)])
    dataset = VideoQADataset(
        ann_file=str(test),
        vocab_ann_file=str(train),
        answer_vocab_size=2,
        video_name='video{video_id}',
        test_mode=True)
    assert [dataset.get_data_info(i)['answer_label']
            for i in range(2)] == [-1, 1]
    assert dataset.get_data_info(0)['answer_type'] == 'who'


def test_msvd_qa_public_json_with_youtube_mapping(tmp_path):
    mapping = tmp_path / 'youtube_mapping.txt'
    mapping.write_text('-4wsuPCjDBc_5_15 vid1\n-7KMZQEsJW4_205_208 vid2\n')
    ann = write_public(tmp_path / 'train_qa.json', [
        ('what is a cat doing', 'play', 1),
        ('who is playing', 'cat', 2),
    ] + [('what is it', 'cat', 2)] * 98 + [('what is it', 'cat', 3)])
    dataset = VideoQADataset(
        ann_file=str(ann),
        video_name='vid{video_id}',
        video_mapping_file=str(mapping),
        video_ext='.avi',
        data_prefix=dict(video=str(tmp_path / 'videos')))
    assert len(dataset) == 100
    assert dataset.get_data_info(0)['video_path'] == str(
        tmp_path / 'videos/-4wsuPCjDBc_5_15.avi')
    # a video missing from the mapping is a bad row, named
    assert dataset.row_reports[0].bad == [
        (100, f"video 'vid3' is not in {mapping}")
    ]
    mapping.write_text('one field\nx\n')
    with pytest.raises(AnnotationError, match=r'mapping\.txt, line 2'):
        VideoQADataset(ann_file=str(ann), video_mapping_file=str(mapping))


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


WHERE = [
    ('where does it move', 'left', 'video1', 'where'),
    ('where does it move', 'right', 'video2', 'where'),
    ('where does it move', 'up', 'video3', 'where'),
    ('what colour is it', 'red', 'video1', 'what'),
]


def test_opposite_answers_label_the_reversed_clip(tmp_path, warnings_logged):
    ann = write_qa(tmp_path / 'train.jsonl', WHERE)
    dataset = VideoQADataset(
        ann_file=str(ann),
        opposite_answers=[('left', 'right'), ('up', 'down')])
    vocab = dataset.ans2label
    assert [(info['answer'], info['opposite_label'])
            for info in map(dataset.get_data_info, range(4))] == [
                ('left', vocab['right']), ('right', vocab['left']), ('up', -1),
                ('red', -1)
            ]
    # 'down' is not an answer of this file: its pair is left out, named
    logged = '\n'.join(warnings_logged)
    assert "('up', 'down')" in logged
    assert '1 of 2 opposite_answers pairs left out' in logged
    assert 'opposite_label' not in VideoQADataset(
        ann_file=str(ann)).get_data_info(0)


@pytest.mark.parametrize('pairs, message', [
    ([('up', 'down')], 'no opposite_answers pair is in the answer vocabulary'),
    ([('left', 'left')], 'pairs of two answers'),
    ([('left', 'right'), ('right', 'red')], 'in two opposite_answers pairs'),
])
def test_bad_opposite_answers(tmp_path, pairs, message):
    ann = write_qa(tmp_path / 'train.jsonl', WHERE)
    with pytest.raises(ValueError, match=message):
        VideoQADataset(ann_file=str(ann), opposite_answers=pairs)
