"""MLMHead: BERT's LM head from transformers, tied to the embeddings."""
import pytest
import torch
from torch import nn

from alpro.models.heads import MLMHead
from alpro.models.text_encoders import BertTextFusionEncoder
from alpro.registry import HEADS

HIDDEN, VOCAB = 16, 40


def test_shape_and_single_bias():
    head = MLMHead(HIDDEN, VOCAB)
    assert head(torch.randn(2, 7, HIDDEN)).shape == (2, 7, VOCAB)
    assert head(torch.randn(5, HIDDEN)).shape == (5, VOCAB)
    # transformers 5 names the bias twice; here it is one Parameter
    assert head.predictions.decoder.bias is head.predictions.bias
    names = [n for n, _ in head.named_parameters()]
    assert len(names) == len(set(id(p) for p in head.parameters()))
    # BERT checkpoint names, less the "cls." prefix
    assert {
        'predictions.bias', 'predictions.transform.dense.weight',
        'predictions.transform.LayerNorm.weight', 'predictions.decoder.weight'
    } <= set(head.state_dict())


def test_tie_is_one_parameter_trained_by_both():
    torch.manual_seed(0)
    embeddings = nn.Embedding(VOCAB, HIDDEN)
    head = MLMHead(HIDDEN, VOCAB)
    head.tie_weights(embeddings)
    assert head.predictions.decoder.weight is embeddings.weight
    assert head.decoder_weight is embeddings.weight

    # one optimiser over both modules sees the shared Parameter once
    params = {id(p): p for m in (embeddings, head) for p in m.parameters()}
    optim = torch.optim.SGD(list(params.values()), lr=0.5)
    before = embeddings.weight.detach().clone()
    ids = torch.tensor([[1, 2, 3]])
    loss = head(embeddings(ids)).logsumexp(-1).sum()
    loss.backward()
    # the gradient of the lookup and of the decoder land in one tensor
    assert embeddings.weight.grad is head.predictions.decoder.weight.grad
    assert embeddings.weight.grad[10:].abs().sum() > 0  # decoder-only rows
    optim.step()
    assert not torch.equal(embeddings.weight, before)
    assert torch.equal(head.predictions.decoder.weight, embeddings.weight)

    # a step on the head alone moves the embeddings too
    optim.zero_grad()
    head_only = torch.optim.SGD(head.parameters(), lr=0.5)
    before = embeddings.weight.detach().clone()
    head(torch.randn(4, HIDDEN)).logsumexp(-1).sum().backward()
    head_only.step()
    assert not torch.equal(embeddings.weight, before)


def test_tie_to_the_text_encoder_and_init_weights_keep_it():
    encoder = BertTextFusionEncoder(
        config=dict(
            vocab_size=VOCAB,
            hidden_size=HIDDEN,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=16),
        fusion_layer=1)
    head = HEADS.build(
        dict(type='MLMHead', hidden_size=HIDDEN, vocab_size=VOCAB))
    word_embeddings = encoder.bert.embeddings.word_embeddings
    head.tie_weights(word_embeddings)
    weight = word_embeddings.weight.detach().clone()
    head.init_weights()  # as the Runner does: must not touch the decoder
    assert head.predictions.decoder.weight is word_embeddings.weight
    assert torch.equal(word_embeddings.weight, weight)
    text = encoder.encode_text(
        torch.tensor([[2, 5, 6, 3]]), torch.ones(1, 4, dtype=torch.long))
    assert head(text).shape == (1, 4, VOCAB)


def test_tie_shape_mismatch_names_the_sizes():
    head = MLMHead(HIDDEN, VOCAB)
    with pytest.raises(ValueError, match=r'\(41, 16\).*\(40, 16\)'):
        head.tie_weights(nn.Embedding(VOCAB + 1, HIDDEN))
