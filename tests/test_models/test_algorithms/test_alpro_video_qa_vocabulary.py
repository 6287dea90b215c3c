"""The QA head's num_answers meets the dataset's answer vocabulary: a label
the head has no output for is a clear error, not an IndexError."""
import json

import pytest
import torch

from alpro.datasets import VideoQADataset
from alpro.registry import MODELS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor, tiny_text_encoder)


@pytest.fixture(scope='module')
def model(tokenizer_dir):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='AlproVideoQA',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            text_encoder=tiny_text_encoder(),
            num_answers=3))


def batch_with(labels):
    data = tiny_batch(('the red circle moves left', ), len(labels), 0)
    for sample, label in zip(data['data_samples'], labels):
        sample.answer_label = label
    return data


def test_labels_of_a_larger_vocabulary_are_refused(model, tmp_path):
    # a dataset whose vocabulary has 4 answers, a head with 3
    vocab = tmp_path / 'train_ans2label.json'
    vocab.write_text(json.dumps(dict(a=0, b=1, c=2, d=3)))
    ann = tmp_path / 'train.jsonl'
    ann.write_text(''.join(
        json.dumps(dict(question='what', answer=a, video_id='v')) + '\n'
        for a in 'abcd'))
    dataset = VideoQADataset(ann_file=str(ann), ans2label_file=str(vocab))
    labels = [dataset.get_data_info(i)['answer_label'] for i in range(4)]
    data = model.data_preprocessor(batch_with(labels), True)
    with pytest.raises(ValueError) as info:
        model(**data, mode='loss')
    message = str(info.value)
    assert 'answer_label 3 is outside [-1, 3)' in message
    assert 'num_answers=3' in message and 'model.num_answers' in message
    with pytest.raises(ValueError, match='answer_label 3'):
        model.val_step(batch_with(labels))
    # labels inside the head, -1 included, train and predict as before
    data = model.data_preprocessor(batch_with([0, 2, -1]), True)
    assert torch.isfinite(model(**data, mode='loss')['loss_qa'])
    assert len(model.val_step(batch_with([0, 2, -1]))) == 3
