"""AlproPretrainer (ALPRO stage 2) at toy size: every loss, the switches,
the VTM hard negatives and a few steps that reduce every loss."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

from alpro.engine.optimizers import DecayGroupsOptimWrapperConstructor
from alpro.registry import MODELS
from tests.test_models.test_prompters.tiny_entity_prompter import \
    entity_prompter_cfg
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor, tiny_text_encoder)

ALL = ('vtc', 'vtm', 'mlm', 'pem')
STEPS = 40
VTM_STEPS = 140
ORDER_STEPS = 160
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
            prompter=entity_prompter_cfg(
                tokenizer_dir,
                checkpoint,
                entities,
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
    torch.testing.assert_close(
        model.mlm_head.loss(fused, labels)['loss_mlm'], expected)
    # a batch where the random masking chose nothing: 0, not NaN
    fused.requires_grad_()
    out = model.mlm_head.loss(fused, torch.full((2, 5), -100))
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
        neg_text, neg_video, _, _ = model.draw_negatives(sim, sim.t())
        assert (neg_text != torch.arange(size)).all()
        assert (neg_video != torch.arange(size)).all()
    # rank 1 of 2: logits (B, 2B), this rank's block at columns B..2B-1;
    # negatives are local indices and never the positive
    offset = torch.arange(size, 2 * size)
    monkeypatch.setattr(
        model.vtc_head, 'positive_index', lambda batch, device=None: offset)
    wide = torch.randn(size, 2 * size)
    wide[:, :size] += 100  # the other rank's columns must not be used
    wide[torch.arange(size), offset] += 50
    for _ in range(50):
        neg_text, neg_video, _, _ = model.draw_negatives(wide, wide)
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
        neg_text, neg_video, _, _ = model.draw_negatives(sim, sim.t().clone())
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
    # VTM can lower its loss by learning the prior of 1 match in 3 pairs;
    # that it tells matches apart is test_vtm_separates_matched_pairs
    for task, values in history.items():
        first, last = sum(values[:3]) / 3, sum(values[-3:]) / 3
        assert last < 0.95 * first, (task, values)
    # the frozen prompter did not move
    assert not any(p.requires_grad for p in model.prompter.parameters())


@pytest.mark.parametrize('draws', [1, 2])
def test_one_fusion_batch_equals_separate_passes(tokenizer_dir, stage_one,
                                                 monkeypatch, draws):
    """Also with K = 2 negatives per row (draw-major, one left out)."""
    torch.manual_seed(0)
    model = build(tokenizer_dir, stage_one).eval()
    inputs = model.data_preprocessor(batch(), True)['inputs']
    size = inputs['text_ids'].size(0)
    neg_text = torch.cat(
        [torch.roll(torch.arange(size), 1 + k) for k in range(draws)])
    neg_video = torch.cat(
        [torch.roll(torch.arange(size), 2 + k) for k in range(draws)])
    has = torch.ones(draws * size, dtype=torch.bool)
    has[-1] = False
    monkeypatch.setattr(model, 'draw_negatives', lambda *args:
                        (neg_text, neg_video, has, has))
    pseudo = model.prompter.pseudo_labels(inputs['pem_crop'],
                                          inputs['is_image'])
    monkeypatch.setattr(model.prompter, 'pseudo_labels', lambda *args: pseudo)
    with torch.no_grad():
        batched = model.loss(inputs)
        # the reference: one encoder or fusion call per use
        video, _ = model.encode_video(inputs['video'])
        text, _ = model.encode_text(inputs['text_ids'], inputs['text_mask'])
        mask = inputs['text_mask']
        encoder = model.text_encoder
        positives = encoder.fuse(text, mask, video)
        negatives = torch.cat([
            encoder.fuse(
                text.repeat(draws, 1, 1), mask.repeat(draws, 1),
                video[neg_video]),
            encoder.fuse(text[neg_text], mask[neg_text],
                         video.repeat(draws, 1, 1))
        ])
        masked = encoder.encode_text(inputs['mlm_text_ids'], mask)
        fused_mlm = encoder.fuse(masked, mask, video)[:, :mask.size(1)]
        reference = dict(
            **model.vtm_head.loss(positives[:, 0], negatives[:, 0],
                                  has.repeat(2),
                                  [False] * draws + [True] * draws),
            **model.mlm_head.loss(fused_mlm, inputs['mlm_labels']),
            **model.pem(inputs, positives))
    for key, value in reference.items():
        torch.testing.assert_close(
            batched[key], value, atol=1e-5, rtol=1e-5, msg=key)


def match_probabilities(model, inputs):
    """``(B, B)`` VTM match probability of text ``i`` with video ``j``."""
    with torch.no_grad():
        video, _ = model.encode_video(inputs['video'])
        text, _ = model.encode_text(inputs['text_ids'], inputs['text_mask'])
        size = text.size(0)
        texts = torch.arange(size).repeat_interleave(size)
        videos = torch.arange(size).repeat(size)
        fused = model.text_encoder.fuse(text[texts],
                                        inputs['text_mask'][texts],
                                        video[videos])
        probs = F.softmax(model.vtm_head(fused[:, 0]).float(), dim=-1)[:, 1]
    return probs.view(size, size)


def test_vtm_separates_matched_pairs(tokenizer_dir, stage_one):
    """After a few steps on a fixed batch every matched pair scores above
    every unmatched one (a falling loss would also come from learning the
    prior 1/3). Random negatives: ALPRO's hard ones rarely draw the pairs
    the encoders do not confuse (the same run with them left an unmatched
    pair at 0.99)."""
    torch.manual_seed(0)
    model = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        vtm_head=dict(
            type='VTMHead',
            negatives=dict(type='VTMNegativeSampler', policy='random')))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    data = batch(size=4)  # four distinct captions, four videos
    inputs = model.data_preprocessor(data, True)['inputs']
    matched = torch.eye(4, dtype=torch.bool)
    before = match_probabilities(model.eval(), inputs)
    # at random init, matched and unmatched pairs are alike
    assert before[matched].min() < before[~matched].max()
    model.train()
    for _ in range(VTM_STEPS):
        model.train_step(data, wrapper)
    after = match_probabilities(model.eval(), inputs)
    assert after[matched].min() > after[~matched].max(), after


def test_vtm_rank_loss_is_a_softmax_over_each_list(tokenizer_dir, stage_one):
    """Each caption's match log-odds against its negative videos', each
    clip's against its negative captions'; a left-out negative is not in
    its list."""
    model = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        vtm_head=dict(type='VTMHead', rank_weight=0.5))
    torch.manual_seed(0)
    width = model.text_encoder.hidden_size
    pos, neg = torch.randn(3, width), torch.randn(9, width)
    # groups: negative videos, negative texts, negative videos
    valid = torch.ones(9, dtype=torch.bool)
    valid[7] = False  # the third group's second row
    is_text = [False, True, False]
    out = model.vtm_head.loss(pos, neg, valid, is_text)
    odds = model.vtm_head(torch.cat([pos, neg])).float()
    odds = odds[:, 1] - odds[:, 0]
    pos_odds, neg_odds = odds[:3], odds[3:].view(3, 3)

    def listwise(rows):
        """Rows: the negative groups in each pair's list."""
        losses = []
        for i, groups in enumerate(rows):
            scores = [pos_odds[i]] + [neg_odds[g, i] for g in groups]
            losses.append(-torch.stack(scores).log_softmax(0)[0])
        return torch.stack(losses).mean()

    negative_videos = [(0, 2), (0, ), (0, 2)]
    negative_texts = [(1, )] * 3
    expected = 0.5 * (listwise(negative_videos) + listwise(negative_texts)) / 2
    torch.testing.assert_close(out['loss_vtm_rank'], expected)
    # off by default (ALPRO): no such loss
    plain = build(tokenizer_dir, stage_one, tasks=('vtc', 'vtm'))
    assert 'loss_vtm_rank' not in plain.vtm_head.loss(pos, neg, valid, is_text)
    with pytest.raises(ValueError, match='rank_weight must be >= 0'):
        build(
            tokenizer_dir,
            stage_one,
            vtm_head=dict(type='VTMHead', rank_weight=-1))


def test_vtm_rank_loss_alone_ranks_each_caption_s_video_first(
        tokenizer_dir, stage_one):
    """With ALPRO's matched-or-not loss weighed 0, the ranking loss alone
    teaches VTM to put each caption's own video above the others (a rank,
    not a calibrated probability)."""
    torch.manual_seed(0)
    model = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        loss_weights=dict(vtm=0.0),
        vtm_head=dict(
            type='VTMHead',
            rank_weight=1.0,
            negatives=dict(
                type='VTMNegativeSampler', policy='random', num_negatives=3)))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    data = batch(size=4)
    inputs = model.data_preprocessor(data, True)['inputs']
    before = match_probabilities(model.eval(), inputs)
    assert (before.argmax(1) != torch.arange(4)).any()
    model.train()
    for _ in range(VTM_STEPS):
        model.train_step(data, wrapper)
    after = match_probabilities(model.eval(), inputs)
    assert (after.argmax(1) == torch.arange(4)).all(), after


def test_true_matches_are_same_video_or_same_caption(tokenizer_dir, stage_one):
    model = build(tokenizer_dir, stage_one, tasks=('vtc', 'vtm'))
    data = batch(size=6)  # captions 0 and 4, 1 and 5 are the same
    data['data_samples'][3].set_metainfo(dict(video_id='2'))  # 2 and 3
    inputs = model.data_preprocessor(data, True)['inputs']
    assert inputs['video_group'].tolist() == [0, 1, 2, 2, 3, 4]
    expected = torch.eye(6, dtype=torch.bool)
    for i, j in ((0, 4), (1, 5), (2, 3)):
        expected[i, j] = expected[j, i] = True
    assert torch.equal(model.true_matches(inputs), expected)
    # without video ids: the captions only
    del inputs['video_group']
    expected[2, 3] = expected[3, 2] = False
    assert torch.equal(model.true_matches(inputs), expected)


def test_order_negatives_teach_the_direction_of_time(tokenizer_dir, stage_one):
    """With each clip's reversed frames as a negative of its caption, a
    few steps on a fixed batch make every caption prefer its clip played
    forward, in VTC and in VTM. The time embedding learns at 30 times the
    base rate (``paramwise_cfg``): at the base rate the same 200 steps
    left forward and reversed clips within 1e-3 of each other (measured
    while writing this test)."""
    torch.manual_seed(0)
    model = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        vtm_head=dict(
            type='VTMHead',
            negatives=dict(type='VTMNegativeSampler', policy='random')),
        order_negatives=dict())
    wrapper = DecayGroupsOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01)),
        dict(custom_keys={'time_embed': dict(lr_mult=30.)}))(
            model)
    data = batch(size=4)
    inputs = model.data_preprocessor(data, True)['inputs']
    for _ in range(ORDER_STEPS):
        out = model.train_step(data, wrapper)
    assert 0 <= float(out['vtm_negatives_left_out']) < 1
    model.eval()
    with torch.no_grad():
        text, text_feat = model.encode_text(inputs['text_ids'],
                                            inputs['text_mask'])
        forward, forward_feat = model.encode_video(inputs['video'])
        backward, backward_feat = model.encode_video(inputs['video'].flip(2))
        assert ((text_feat * forward_feat).sum(-1)
                > (text_feat * backward_feat).sum(-1)).all()
        mask = inputs['text_mask']
        match = [
            F.softmax(
                model.vtm_head(
                    model.text_encoder.fuse(text, mask, video)[:, 0]),
                dim=-1)[:, 1] for video in (forward, backward)
        ]
        assert (match[0] > match[1]).all(), match


def test_order_negatives_only_for_captions_naming_a_direction(
        tokenizer_dir, stage_one):
    model = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        order_negatives=dict(vtc=False, words=['left', 'right']))
    inputs = model.data_preprocessor(batch(size=4), True)['inputs']
    # 'red circle moves left', 'blue square moves up', 'green circle on the
    # background', 'the square moves right'
    assert model.order_negatives.reversed_valid(
        inputs['text_ids']).tolist() == [True, False, False, True]
    out = model.loss(inputs)
    # 8 drawn negatives and 4 reversed clips, 2 of them left out
    assert float(out['vtm_negatives_left_out']) == pytest.approx(2 / 12)
    # and 4 direction-swapped captions, the third ('on the background')
    # left out; in VTC one more logit per text (reversed clip) and per video
    # (swapped caption), masked where left out
    model.order_negatives = MODELS.build(
        dict(
            type='OrderNegatives',
            tokenizer=model.data_preprocessor.tokenizer,
            words=['left', 'right'],
            swap_words=[('left', 'right'), ('up', 'down')]))
    out = model.loss(inputs)
    assert float(out['vtm_negatives_left_out']) == pytest.approx(3 / 16)
    assert torch.isfinite(out['loss_vtc'])
    # a word the tokenizer does not know: refused when it is read
    unknown = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        order_negatives=dict(words=['leftwards']))
    with pytest.raises(ValueError, match="'leftwards' is .'.UNK.'. for"):
        unknown.data_preprocessor(batch(size=4), True)
    with pytest.raises(ValueError, match='neither vtc nor vtm'):
        build(
            tokenizer_dir,
            stage_one,
            tasks=('vtc', 'mlm'),
            order_negatives=dict(vtm=True, vtc=False))


def test_the_loss_follows_the_runner_iteration_for_the_warm_up(
        tokenizer_dir, stage_one, request):
    model = build(
        tokenizer_dir,
        stage_one,
        tasks=('vtc', 'vtm'),
        vtm_head=dict(
            type='VTMHead',
            negatives=dict(type='VTMNegativeSampler', random_iters=3)))
    hub = MessageHub.get_instance(f'{request.node.name}-{id(request)}')
    data = model.data_preprocessor(batch(size=4), True)
    at_random = []
    for iteration in (0, 2, 3, 10):
        hub.update_info('iter', iteration)
        model(**data, mode='loss')
        at_random.append(model.vtm_head.negatives.at_random)
    assert at_random == [True, True, False, False]
