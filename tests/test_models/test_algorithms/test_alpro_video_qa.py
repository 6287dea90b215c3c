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
