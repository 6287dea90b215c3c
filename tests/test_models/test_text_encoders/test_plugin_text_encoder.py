"""The example plugin's TransformerTextFusionEncoder: a text encoder
without transformers, swapped in by config, trains ALPRO's stage 2 (VTC
and MLM, the decoder tied to its embeddings); one that breaks the text
encoder contract is refused when the model is built
(docs/adding_a_component.md)."""
import alpro_example_plugin  # noqa: F401  (registers the encoder)
import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from alpro.registry import MODELS, TEXT_ENCODERS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_batch,
                                   tiny_preprocessor)

STEPS = 30
ENCODER = dict(
    type='TransformerTextFusionEncoder',
    vocab_size=64,
    hidden_size=32,
    num_heads=2,
    num_text_layers=2,
    num_fusion_layers=1,
    max_length=8,
    dropout=0.0)
CAPTIONS = ('red circle moves left', 'blue square moves up',
            'green circle on the background', 'the square moves right')


def build(tokenizer_dir, text_encoder=ENCODER, tasks=('vtc', 'mlm')):
    return MODELS.build(
        dict(
            type='AlproPretrainer',
            data_preprocessor=tiny_preprocessor(
                tokenizer_dir,
                type='AlproPretrainDataPreprocessor',
                mlm_probability=0.3),
            backbone=TINY_TIMESFORMER,
            text_encoder=text_encoder,
            tasks=tasks,
            embed_dim=16))


def test_it_trains_vtc_and_mlm(tokenizer_dir):
    torch.manual_seed(0)
    model = build(tokenizer_dir)
    model.init_weights()
    assert model.mlm_head.decoder_weight is \
        model.text_encoder.word_embeddings.weight
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    data = tiny_batch(CAPTIONS, 4)
    history = {'loss_vtc': [], 'loss_mlm': []}
    for _ in range(STEPS):
        out = model.train_step(data, wrapper)
        for key in history:
            history[key].append(out[key].item())
    for key, values in history.items():
        first, last = sum(values[:3]) / 3, sum(values[-3:]) / 3
        assert last < 0.7 * first, (key, values)


class NoVocabularyEncoder(nn.Module):
    """Encodes and fuses, but says nothing of its vocabulary."""
    hidden_size = 32

    def encode_text(self, text_ids, text_mask):
        return torch.zeros(*text_ids.shape, 32)

    def fuse(self, text, mask, video):
        return torch.cat([text, video], 1)


class NoEmbeddingsEncoder(NoVocabularyEncoder):
    """On the contract, but without the embeddings MLM ties to."""
    vocab_size = 64


def test_an_encoder_off_the_contract_is_refused(tokenizer_dir):
    for cls in (NoVocabularyEncoder, NoEmbeddingsEncoder):
        TEXT_ENCODERS.register_module(module=cls, force=True)
    try:
        with pytest.raises(TypeError) as info:
            build(tokenizer_dir, dict(type='NoVocabularyEncoder'), ('vtc', ))
        message = str(info.value)
        assert 'NoVocabularyEncoder' in message
        assert "'vocab_size'" in message
        assert 'alpro/models/text_encoders/contract.py' in message
        # on the contract: builds; MLM also needs the embeddings
        build(tokenizer_dir, dict(type='NoEmbeddingsEncoder'), ('vtc', ))
        with pytest.raises(TypeError, match="'word_embeddings'"):
            build(tokenizer_dir, dict(type='NoEmbeddingsEncoder'),
                  ('vtc', 'mlm'))
    finally:
        for cls in (NoVocabularyEncoder, NoEmbeddingsEncoder):
            TEXT_ENCODERS.module_dict.pop(cls.__name__)
