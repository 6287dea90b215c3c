"""OrderNegatives: which captions get a reversed clip, the swapped
captions, the extra VTC columns and the refused configurations."""
import pytest
import torch
from transformers import AutoTokenizer

from alpro.models.samplers import OrderNegatives
from alpro.registry import MODELS

SWAP = [('left', 'right'), ('up', 'down')]
CAPTIONS = [
    'red circle moves left', 'blue square moves up',
    'green circle on the background', 'the square moves right'
]


@pytest.fixture(scope='module')
def tokenizer(tokenizer_dir):
    return AutoTokenizer.from_pretrained(tokenizer_dir)


def ids(tokenizer, captions):
    return tokenizer(captions, padding=True, return_tensors='pt')['input_ids']


def test_swapped_captions_name_the_opposite_direction(tokenizer):
    negatives = OrderNegatives(tokenizer, swap_words=SWAP)
    swapped, valid = negatives.swap(ids(tokenizer, CAPTIONS))
    assert tokenizer.batch_decode(
        swapped, skip_special_tokens=True) == [
            'red circle moves right', 'blue square moves down',
            'green circle on the background', 'the square moves left'
        ]
    assert valid.tolist() == [True, True, False, True]
    # swapping twice gives the captions back
    twice, _ = negatives.swap(swapped)
    assert torch.equal(twice, ids(tokenizer, CAPTIONS))


def test_reversed_clips_for_directional_captions_of_clips(tokenizer):
    text = ids(tokenizer, CAPTIONS)
    every = OrderNegatives(tokenizer)
    assert every.reversed_valid(text).all()
    named = MODELS.build(
        dict(type='OrderNegatives', tokenizer=tokenizer, words=['left', 'up']))
    assert named.reversed_valid(text).tolist() == [True, True, False, False]
    is_image = torch.tensor([True, False, False, False])
    assert named.reversed_valid(
        text, is_image).tolist() == [False, True, False, False]


def test_vtc_logits_gain_one_column_per_negative(tokenizer):
    negatives = OrderNegatives(tokenizer, swap_words=SWAP)
    video = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    other = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    temp = torch.tensor(0.1)
    sim = video @ text.t() / temp
    valid = torch.tensor([True, False, True])
    v2t, t2v = negatives.vtc_logits(
        sim,
        sim.t(),
        video,
        text,
        temp,
        reversed_clips=(other, valid),
        swapped_captions=(other, ~valid))
    assert v2t.shape == t2v.shape == (3, 4)
    torch.testing.assert_close(t2v[:, :3], sim.t())
    torch.testing.assert_close(t2v[[0, 2], 3],
                               (text * other).sum(-1)[[0, 2]] / temp)
    assert t2v[1, 3] == -torch.inf
    torch.testing.assert_close(v2t[1, 3], (video[1] * other[1]).sum() / temp)
    assert (v2t[[0, 2], 3] == -torch.inf).all()
    # nothing asked for: the logits as they were
    same = negatives.vtc_logits(sim, sim.t(), video, text, temp)
    assert same[0] is sim


def test_refused_configurations(tokenizer):
    with pytest.raises(ValueError, match="'leftwards' is .'.UNK.'. for"):
        OrderNegatives(tokenizer, swap_words=[('leftwards', 'right')])
    with pytest.raises(ValueError, match='pairs of opposite words'):
        OrderNegatives(tokenizer, swap_words=[('left', 'right', 'up')])
    with pytest.raises(ValueError, match='neither reverse_clips nor'):
        OrderNegatives(tokenizer, reverse_clips=False)
    with pytest.raises(ValueError, match='neither vtc nor vtm'):
        OrderNegatives(tokenizer, vtc=False, vtm=False)
    with pytest.raises(ValueError, match='need the data preprocessor'):
        OrderNegatives(None, words=['left'])
