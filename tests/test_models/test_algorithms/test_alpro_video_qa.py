"""AlproVideoQA at toy size: the loss, ignored labels, a few steps that
reduce it, the predict mode and initialisation from a stage-2 model."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from alpro.models.algorithms import AlproVideoQA
from alpro.registry import MODELS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor, tiny_text_encoder)

NUM_ANSWERS = 5
STEPS = 30
LR = 3e-3
# BERT's 0.02 gives every question nearly the same fusion [CLS]
TEXT_ENCODER = tiny_text_encoder(initializer_range=0.1)


def build(tokenizer_dir, **kwargs):
    model = MODELS.build(
        dict(
            type='AlproVideoQA',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            text_encoder=TEXT_ENCODER,
            num_answers=NUM_ANSWERS,
            **kwargs))
    model.init_weights()
    return model


QUESTIONS = ('the red circle moves left', 'blue square moves up',
             'green circle on the background', 'the square moves right')


def batch(labels=(0, 1, 2, 3, 4, 1), seed=0):
    data = tiny_batch(QUESTIONS, len(labels), seed)
    for sample, label in zip(data['data_samples'], labels):
        sample.set_metainfo(dict(answer_type='what'))
        sample.answer_label = label
    return data


@pytest.fixture(scope='module')
def model(tokenizer_dir):
    torch.manual_seed(0)
    return build(tokenizer_dir)


def test_loss_is_finite_and_logged(model):
    out = model(**model.data_preprocessor(batch(), True), mode='loss')
    assert set(out) == {'loss_qa', 'qa_acc'}
    assert torch.isfinite(out['loss_qa']) and out['loss_qa'] > 0
    assert 0 <= float(out['qa_acc']) <= 1
    logits = model(**model.data_preprocessor(batch(), False), mode='tensor')
    assert logits.shape == (6, NUM_ANSWERS)
    assert isinstance(model.video_to_text, torch.nn.Linear)  # 192 -> 32


def test_out_of_vocabulary_labels_are_ignored(model):
    model.eval()
    labels = (0, -1, 2, -1, 4, 1)
    data = model.data_preprocessor(batch(labels), False)
    with torch.no_grad():
        logits = model(**data, mode='tensor')
        out = model(**data, mode='loss')
    kept = torch.tensor([i for i, label in enumerate(labels) if label >= 0])
    gold = torch.tensor(labels)[kept]
    torch.testing.assert_close(
        out['loss_qa'], torch.nn.functional.cross_entropy(logits[kept], gold))
    torch.testing.assert_close(
        out['qa_acc'], (logits[kept].argmax(-1) == gold).float().mean())
    # a batch without any labelled sample: zero loss, not NaN
    data = model.data_preprocessor(batch((-1, -1)), False)
    with torch.no_grad():
        out = model(**data, mode='loss')
    assert float(out['loss_qa']) == 0 and float(out['qa_acc']) == 0
    # a label tensor works as well as an int
    data = batch((1, 2))
    for sample in data['data_samples']:
        sample.answer_label = torch.tensor(sample.answer_label)
    assert torch.isfinite(
        model(**model.data_preprocessor(data, False), mode='loss')['loss_qa'])


def test_a_few_steps_reduce_the_loss(tokenizer_dir):
    torch.manual_seed(0)
    model = build(tokenizer_dir)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=LR))
    data = batch()
    losses, accs = [], []
    for _ in range(STEPS):
        log_vars = model.train_step(data, wrapper)
        losses.append(log_vars['loss_qa'].item())
        accs.append(log_vars['qa_acc'].item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first, losses
    assert accs[-1] > accs[0], accs


def where_batch(labels, opposite, seed=0):
    """:func:`batch` with each sample's ``opposite_label``."""
    data = batch(labels, seed)
    for sample, other in zip(data['data_samples'], opposite):
        sample.opposite_label = other
    return data


def test_reversed_clips_add_the_opposite_answers(model, tokenizer_dir):
    both = build(tokenizer_dir, reversed_clips=True)
    both.load_state_dict(model.state_dict())
    model.eval()
    both.eval()
    labels = (0, 1, 2, 3, 4, 1)
    # no opposite answer: the reversed clips add nothing
    data = where_batch(labels, (-1, ) * 6)
    with torch.no_grad():
        plain = model(**model.data_preprocessor(data, False), mode='loss')
        reversed_too = both(**both.data_preprocessor(data, False), mode='loss')
    for key in ('loss_qa', 'qa_acc'):
        torch.testing.assert_close(reversed_too[key], plain[key])
    # opposites: one cross-entropy over the clips and the reversed clips
    # that have one; the accuracy stays that of the clips
    opposite = (1, 0, 3, 2, -1, 0)
    data = both.data_preprocessor(where_batch(labels, opposite), False)
    inputs = data['inputs']
    with torch.no_grad():
        out = both(**data, mode='loss')
        forward = both.qa_head(both.extract_feat(inputs))
        backward = both.qa_head(
            both.extract_feat(dict(inputs, video=inputs['video'].flip(2))))
    has = [i for i, o in enumerate(opposite) if o >= 0]
    torch.testing.assert_close(
        out['loss_qa'],
        torch.nn.functional.cross_entropy(
            torch.cat([forward, backward[has]]),
            torch.tensor(labels + tuple(opposite[i] for i in has))))
    torch.testing.assert_close(
        out['qa_acc'],
        (forward.argmax(-1) == torch.tensor(labels)).float().mean())


def test_reversed_clips_need_the_opposite_labels(tokenizer_dir):
    both = build(tokenizer_dir, reversed_clips=True)
    data = both.data_preprocessor(batch((0, 1)), False)
    with pytest.raises(KeyError, match='opposite_answers'):
        both(**data, mode='loss')


def test_reversed_clips_teach_the_order(tokenizer_dir):
    """The same question about a clip and about it played backwards has
    two answers: after a few steps the model gives each its own. (The
    backbone's ``time_embed`` starts random, as after a pre-training that
    learned the order, not zero: a zero one gets almost no order-breaking
    gradient in a few steps.)"""
    torch.manual_seed(0)
    model = build(tokenizer_dir, reversed_clips=True)
    torch.nn.init.normal_(model.backbone.time_embed, std=0.5)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=LR))
    labels, opposite = (0, 1, 2, 3, 0, 2), (1, 0, 3, 2, 1, 3)
    data = where_batch(labels, opposite)
    for _ in range(2 * STEPS):
        model.train_step(data, wrapper)
    model.eval()
    inputs = model.data_preprocessor(data, False)['inputs']
    with torch.no_grad():
        forward = model.qa_head(model.extract_feat(inputs)).argmax(-1)
        backward = model.qa_head(
            model.extract_feat(dict(inputs,
                                    video=inputs['video'].flip(2)))).argmax(-1)
    assert forward.tolist() == list(labels)
    assert backward.tolist() == list(opposite)


def test_predict_sets_label_and_score(model):
    data = batch((0, -1, 3))
    outputs = model.val_step(data)
    assert len(outputs) == 3
    for sample in outputs:
        assert sample.pred_score.shape == (NUM_ANSWERS, )
        torch.testing.assert_close(sample.pred_score.sum(), torch.tensor(1.))
        assert sample.pred_label.dtype == torch.long
        assert sample.pred_label.dim() == 0
        assert int(sample.pred_label) == int(sample.pred_score.argmax())
        # the gold fields the metric reads travel on
        assert 'answer_label' in sample and sample.answer_type == 'what'
    with pytest.raises(ValueError, match='mode must be'):
        model(**model.data_preprocessor(data, False), mode='bad')


def test_loads_encoders_from_a_pretrainer_state_dict(tokenizer_dir):
    torch.manual_seed(1)
    # an AlproPretrainer-shaped state dict (no prompter needed for these
    # tasks): encoders under the same names, plus pre-training heads; its
    # preprocessor makes the MLM inputs, as a pre-training one must
    pretrainer = MODELS.build(
        dict(
            type='AlproPretrainer',
            data_preprocessor=tiny_preprocessor(
                tokenizer_dir, type='AlproPretrainDataPreprocessor', pem=None),
            backbone=TINY_TIMESFORMER,
            text_encoder=TEXT_ENCODER,
            tasks=('vtc', 'vtm', 'mlm'),
            embed_dim=16))
    pretrainer.init_weights()
    state = pretrainer.state_dict()
    torch.manual_seed(2)
    model = build(tokenizer_dir)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # only the QA head is new; only pre-training parts are left over
    assert all(key.startswith('qa_head.') for key in missing), missing
    assert missing
    assert all(
        key.split('.')[0] in ('vision_proj', 'text_proj', 'vtc_head',
                              'vtm_head', 'mlm_head') for key in unexpected)
    for name in ('backbone', 'text_encoder', 'video_to_text'):
        ours = getattr(model, name).state_dict()
        theirs = getattr(pretrainer, name).state_dict()
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            torch.testing.assert_close(ours[key], value, msg=key)


def test_tokenizer_larger_than_vocabulary_is_refused(tokenizer_dir):
    encoder = tiny_text_encoder(initializer_range=0.1, vocab_size=8)
    model = MODELS.build(
        dict(
            type='AlproVideoQA',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=TINY_TIMESFORMER,
            text_encoder=encoder,
            num_answers=NUM_ANSWERS))
    # refused when the tokenizer is read, at the first batch
    with pytest.raises(ValueError, match='vocab_size'):
        model.data_preprocessor.tokenize(['a caption'])


def test_registered():
    assert MODELS.get('AlproVideoQA') is AlproVideoQA
