"""AlproPretrainer (ALPRO stage 2) at toy size: every loss, the switches,
the VTM hard negatives and a few steps that reduce every loss."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
# tests/ is on sys.path (its conftest); the helper is a namespace module
from test_models.test_prompters.tiny_entity_prompter import prompter_cfg
from tiny_components import (TINY_TIMESFORMER, tiny_batch, tiny_preprocessor,
                             tiny_text_encoder)

from alpro.registry import MODELS

ALL = ('vtc', 'vtm', 'mlm', 'pem')
STEPS = 40
LR = 3e-3


def build(tokenizer_dir, stage_one, tasks=ALL, **kwargs):
    checkpoint, entities = stage_one
    model = MODELS.build(
        dict(
            type='AlproPretrainer',
            data_preprocessor=tiny_preprocessor(
                tokenizer_dir,
                type='AlproPretrainDataPreprocessor',
                mlm_probability=0.3,
                pem=dict(patch_size=8)),
            backbone=TINY_TIMESFORMER,
            # BERT's 0.02 makes every caption's [CLS] alike at first; a
            # wider init lets VTC start within a few steps
            text_encoder=tiny_text_encoder(initializer_range=0.1),
            prompter=dict(
                type='EntityPrompter',
                prompter=prompter_cfg(tokenizer_dir),
                checkpoint=str(checkpoint),
                entity_file=str(entities),
                tokenizer=dict(path=str(tokenizer_dir)),
                max_length=8,
                # the random tiny prompter scores all entities alike; a low
                # temperature gives pseudo-labels that can be learnt
                temperature=0.01,
                threshold=0.0),
            tasks=tasks,
            embed_dim=16,
            **kwargs))
    model.init_weights()
    if 'pem' in tasks:
        model.prompter.build_cache()
    return model


CAPTIONS = ('red circle moves left', 'blue square moves up',
            'green circle on the background', 'the square moves right')


def batch(size=6, seed=0):
    return tiny_batch(CAPTIONS, size, seed)


def test_every_loss_is_finite_and_logged(tokenizer_dir, stage_one):
    torch.manual_seed(0)
    model = build(tokenizer_dir, stage_one)
    out = model(**model.data_preprocessor(batch(), True), mode='loss')
    for key in ('loss_vtc', 'loss_vtm', 'loss_mlm', 'loss_pem', 'vtm_acc',
                'mlm_acc', 'temperature', 'pem_kept', 'pem_entropy'):
        assert key in out and torch.isfinite(out[key]), key
    assert 0 <= float(out['pem_kept']) <= 1
    assert model.mlm_head.decoder_weight is \
        model.text_encoder.bert.embeddings.word_embeddings.weight


def test_mlm_loss_is_the_mean_over_predicted_tokens(tokenizer_dir, stage_one):
    model = build(tokenizer_dir, stage_one, tasks=('vtc', 'mlm'))
    torch.manual_seed(0)
    fused = torch.randn(2, 5, model.text_encoder.hidden_size)
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 3] = 7, 9
    logits = model.mlm_head(fused).float()
    expected = (F.cross_entropy(logits[0, 1], torch.tensor(7)) +
                F.cross_entropy(logits[1, 3], torch.tensor(9))) / 2
    torch.testing.assert_close(model.mlm(fused, labels)['loss_mlm'], expected)
    # a batch where the random masking chose nothing: 0, not NaN
    fused.requires_grad_()
    out = model.mlm(fused, torch.full((2, 5), -100))
    assert out['loss_mlm'].item() == 0 and out['mlm_acc'].item() == 0
    out['loss_mlm'].backward()
    assert torch.isfinite(fused.grad).all()


@pytest.mark.parametrize('tasks', [('vtc', ), ('vtc', 'vtm', 'mlm'), ('mlm', ),
                                   ('vtm', 'pem')])
def test_each_task_switches(tokenizer_dir, stage_one, tasks):
    model = build(tokenizer_dir, stage_one, tasks=tasks)
    out = model(**model.data_preprocessor(batch(), True), mode='loss')
    losses = {k for k in out if k.startswith('loss_')}
    assert losses == {f'loss_{t}' for t in tasks}
    for task, head in (('vtm', 'vtm_head'), ('mlm', 'mlm_head'), ('pem',
                                                                  'pem_head')):
        assert hasattr(model, head) == (task in tasks)
    assert hasattr(model, 'prompter') == ('pem' in tasks)


def test_loss_weights_scale_losses(tokenizer_dir, stage_one):
    torch.manual_seed(0)
    plain = build(tokenizer_dir, stage_one, tasks=('vtc', ))
    data = plain.data_preprocessor(batch(), True)
    weighted = build(
        tokenizer_dir, stage_one, tasks=('vtc', ), loss_weights=dict(vtc=0.25))
    weighted.load_state_dict(plain.state_dict())
    torch.testing.assert_close(
        weighted(**data, mode='loss')['loss_vtc'],
        0.25 * plain(**data, mode='loss')['loss_vtc'])


def test_unknown_task_is_refused(tokenizer_dir, stage_one):
    with pytest.raises(ValueError, match='tasks must be'):
        build(tokenizer_dir, stage_one, tasks=('vtc', 'itm'))


def test_hard_negatives_never_the_positive(tokenizer_dir, stage_one,
                                           monkeypatch):
    model = build(tokenizer_dir, stage_one, tasks=('vtc', 'vtm'))
    torch.manual_seed(0)
    size = 5
    # one rank: logits (B, B); a strongly preferred positive must still
    # never be drawn
    sim = torch.randn(size, size) + 50 * torch.eye(size)
    for _ in range(50):
        neg_text, neg_video = model.hard_negatives(sim, sim.t())
        assert (neg_text != torch.arange(size)).all()
        assert (neg_video != torch.arange(size)).all()
    # rank 1 of 2: logits (B, 2B), this rank's block at columns B..2B-1;
    # negatives are local indices and never the positive
    offset = torch.arange(size, 2 * size)
    monkeypatch.setattr(
        model.vtc_loss, 'positive_index', lambda batch, device=None: offset)
    wide = torch.randn(size, 2 * size)
    wide[:, :size] += 100  # the other rank's columns must not be used
    wide[torch.arange(size), offset] += 50
    for _ in range(50):
        neg_text, neg_video = model.hard_negatives(wide, wide)
        assert ((0 <= neg_text) & (neg_text < size)).all()
        assert (neg_text != torch.arange(size)).all()
        assert (neg_video != torch.arange(size)).all()


def test_hard_negatives_follow_the_softmax_over_negatives(
        tokenizer_dir, stage_one):
    """Drawn from softmax over the negatives only (ALPRO's -inf on the
    positive), also when the positive leads by far more than float32's
    exp range: the hardest negative keeps its share, the draw does not
    fall back to uniform."""
    model = build(tokenizer_dir, stage_one, tasks=('vtc', 'vtm'))
    torch.manual_seed(0)
    size = 4
    # row i: positive at 1000, negative (i + 1) % size at 3, the rest at 0:
    # softmax over the negatives gives e^3 / (e^3 + 2) = 0.909 to the hard
    # one, where a softmax with the positive underflows to all zeros
    sim = torch.zeros(size, size)
    hard = (torch.arange(size) + 1) % size
    sim[torch.arange(size), hard] = 3.0
    sim += 1000 * torch.eye(size)
    draws = 200
    hits = torch.zeros(size)
    for _ in range(draws):
        neg_text, neg_video = model.hard_negatives(sim, sim.t().clone())
        assert (neg_text != torch.arange(size)).all()
        assert (neg_video != torch.arange(size)).all()
        hits += (neg_text == hard).float()
    expected = math.exp(3) / (math.exp(3) + 2)
    # a row's share over 200 draws: standard error 0.02
    assert ((hits / draws - expected).abs() < 0.07).all(), hits / draws


def test_a_few_steps_reduce_every_loss(tokenizer_dir, stage_one):
    torch.manual_seed(0)
    model = build(tokenizer_dir, stage_one)
    # a random tiny BERT embeds every entity prompt alike (uniform
    # pseudo-labels, nothing to learn); spread the cached entity embeddings
    # so that PEM has targets that depend on the region
    table = model.prompter.video_entity_embeds
    spread = torch.nn.functional.normalize(
        torch.randn(table.shape, generator=torch.Generator().manual_seed(1)),
        dim=-1)
    table.copy_(spread)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=LR))
    data = batch()
    history = {t: [] for t in ALL}
    for _ in range(STEPS):
        log_vars = model.train_step(data, wrapper)
        for task in ALL:
            history[task].append(float(log_vars[f'loss_{task}']))
    for task, values in history.items():
        first, last = sum(values[:3]) / 3, sum(values[-3:]) / 3
        assert last < 0.95 * first, (task, values)
    # the frozen prompter did not move
    assert not any(p.requires_grad for p in model.prompter.parameters())


def test_one_fusion_batch_equals_separate_passes(tokenizer_dir, stage_one,
                                                 monkeypatch):
    torch.manual_seed(0)
    model = build(tokenizer_dir, stage_one).eval()
    inputs = model.data_preprocessor(batch(), True)['inputs']
    size = inputs['text_ids'].size(0)
    neg_text = torch.roll(torch.arange(size), 1)
    neg_video = torch.roll(torch.arange(size), 2)
    monkeypatch.setattr(model, 'hard_negatives', lambda *args:
                        (neg_text, neg_video))
    pseudo = model.prompter.pseudo_labels(inputs['pem_crop'],
                                          inputs['is_image'])
    monkeypatch.setattr(model.prompter, 'pseudo_labels', lambda *args: pseudo)
    with torch.no_grad():
        batched = model.loss(inputs)
        # the reference: one encoder or fusion call per use
        video, text, _, _ = model.encode(inputs)
        mask = inputs['text_mask']
        encoder = model.text_encoder
        positives = encoder.fuse(text, mask, video)
        negatives = torch.cat([
            encoder.fuse(text, mask, video[neg_video]),
            encoder.fuse(text[neg_text], mask[neg_text], video)
        ])
        masked = encoder.encode_text(inputs['mlm_text_ids'], mask)
        fused_mlm = encoder.fuse(masked, mask, video)[:, :mask.size(1)]
        reference = dict(**model.vtm(positives[:, 0], negatives[:, 0]),
                         **model.mlm(fused_mlm, inputs['mlm_labels']),
                         **model.pem(inputs, positives))
    for key, value in reference.items():
        torch.testing.assert_close(
            batched[key], value, atol=1e-5, rtol=1e-5, msg=key)
