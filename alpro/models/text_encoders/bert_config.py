"""BERT architectures: by name or by ``transformers.BertConfig`` keyword
arguments, built without reading a file."""
from typing import Union

__all__ = [
    'ARCHITECTURE_KEYS', 'ATTN_IMPLEMENTATION', 'BERT_ARCHS',
    'build_bert_config'
]

#: The only attention implementation we build with: it runs on CPU and
#: CUDA, and takes the boolean masks made by ``create_bidirectional_mask``.
ATTN_IMPLEMENTATION = 'sdpa'

#: BERT architectures by name, as their ``config.json`` gives them.
BERT_ARCHS = {
    'bert-base-uncased':
    dict(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        type_vocab_size=2)
}

#: what a pretrained folder's ``config.json`` must agree on with ``config``
ARCHITECTURE_KEYS = ('vocab_size', 'hidden_size', 'num_hidden_layers',
                     'num_attention_heads', 'intermediate_size', 'hidden_act',
                     'max_position_embeddings', 'type_vocab_size',
                     'layer_norm_eps', 'pad_token_id', 'hidden_dropout_prob',
                     'attention_probs_dropout_prob')


def build_bert_config(config: Union[str, dict]):
    """A ``transformers.BertConfig`` of a :data:`BERT_ARCHS` name or of
    keyword arguments (BertConfig's defaults for the others); refused for a
    decoder, cross-attention or another attention implementation."""
    from transformers import BertConfig
    if isinstance(config, str):
        if config not in BERT_ARCHS:
            raise ValueError(f'BertTextFusionEncoder: unknown config '
                             f'{config!r}; use one of {sorted(BERT_ARCHS)} '
                             'or a dict of BertConfig keyword arguments')
        config = BERT_ARCHS[config]
    kwargs = dict(config)
    for key in ('is_decoder', 'add_cross_attention'):
        if kwargs.get(key):
            raise ValueError(
                f'config.{key}=True is not supported: ALPRO encodes and fuses '
                'bidirectionally, by self-attention only (a decoder is '
                'causal in transformers 5)')
    attn = kwargs.pop('attn_implementation', ATTN_IMPLEMENTATION)
    if attn != ATTN_IMPLEMENTATION:
        raise ValueError(f'config.attn_implementation={attn!r}: only '
                         f"'{ATTN_IMPLEMENTATION}' is supported")
    return BertConfig(**kwargs, attn_implementation=ATTN_IMPLEMENTATION)
