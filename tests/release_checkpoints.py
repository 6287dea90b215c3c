"""Tiny random state dicts in the key layout of the released ALPRO
checkpoints: a flat ``model.state_dict()`` as the release's ``ModelSaver``
writes it (salesforce/ALPRO ``src/utils/load_save.py``), with the names of
``src/modeling/alpro_models.py``, ``timesformer/vit.py`` and ``xbert.py``.
Written from the release's names, not from our converter, so that a test of
the converter does not check it against itself."""
from dataclasses import dataclass
from typing import Dict

import torch


@dataclass(frozen=True)
class Sizes:
    """The sizes of a tiny release-layout model.

    ``video_width`` is 768 in the release, like ``text_width``; tests may
    make them differ to exercise our video-to-text projection.
    """
    video_width: int = 64
    depth: int = 2
    frames: int = 2
    patches: int = 16
    patch: int = 8
    text_width: int = 32
    vocab: int = 64
    positions: int = 32
    intermediate: int = 64
    embed: int = 16
    entities: int = 6


def timesformer(prefix: str, s: Sizes) -> Dict[str, tuple]:
    """``visual_encoder.model``: the original TimeSformer's
    ``VisionTransformer`` (divided space-time, qkv bias, Kinetics head)."""
    p = f'{prefix}visual_encoder.model.'
    d = s.video_width
    shapes = {
        f'{p}cls_token': (1, 1, d),
        f'{p}pos_embed': (1, s.patches + 1, d),
        f'{p}time_embed': (1, s.frames, d),
        f'{p}patch_embed.proj.weight': (d, 3, s.patch, s.patch),
        f'{p}patch_embed.proj.bias': (d, ),
        f'{p}norm.weight': (d, ),
        f'{p}norm.bias': (d, ),
        f'{p}head.weight': (400, d),
        f'{p}head.bias': (400, ),
    }
    for i in range(s.depth):
        b = f'{p}blocks.{i}.'
        for norm in ('norm1', 'norm2', 'temporal_norm1'):
            shapes[f'{b}{norm}.weight'] = (d, )
            shapes[f'{b}{norm}.bias'] = (d, )
        for attn in ('attn', 'temporal_attn'):
            shapes[f'{b}{attn}.qkv.weight'] = (3 * d, d)
            shapes[f'{b}{attn}.qkv.bias'] = (3 * d, )
            shapes[f'{b}{attn}.proj.weight'] = (d, d)
            shapes[f'{b}{attn}.proj.bias'] = (d, )
        shapes[f'{b}temporal_fc.weight'] = (d, d)
        shapes[f'{b}temporal_fc.bias'] = (d, )
        shapes[f'{b}mlp.fc1.weight'] = (2 * d, d)
        shapes[f'{b}mlp.fc1.bias'] = (2 * d, )
        shapes[f'{b}mlp.fc2.weight'] = (d, 2 * d)
        shapes[f'{b}mlp.fc2.bias'] = (d, )
    return shapes


def bert(p: str, layers: int, s: Sizes) -> Dict[str, tuple]:
    """xbert's ``BertModel`` (no pooler) under prefix ``p``."""
    t = s.text_width
    shapes = {
        f'{p}embeddings.word_embeddings.weight': (s.vocab, t),
        f'{p}embeddings.position_embeddings.weight': (s.positions, t),
        f'{p}embeddings.token_type_embeddings.weight': (2, t),
        f'{p}embeddings.LayerNorm.weight': (t, ),
        f'{p}embeddings.LayerNorm.bias': (t, ),
    }
    for i in range(layers):
        q = f'{p}encoder.layer.{i}.'
        for name in ('self.query', 'self.key', 'self.value', 'output.dense'):
            shapes[f'{q}attention.{name}.weight'] = (t, t)
            shapes[f'{q}attention.{name}.bias'] = (t, )
        shapes[f'{q}attention.output.LayerNorm.weight'] = (t, )
        shapes[f'{q}attention.output.LayerNorm.bias'] = (t, )
        shapes[f'{q}intermediate.dense.weight'] = (s.intermediate, t)
        shapes[f'{q}intermediate.dense.bias'] = (s.intermediate, )
        shapes[f'{q}output.dense.weight'] = (t, s.intermediate)
        shapes[f'{q}output.dense.bias'] = (t, )
        shapes[f'{q}output.LayerNorm.weight'] = (t, )
        shapes[f'{q}output.LayerNorm.bias'] = (t, )
    return shapes


def base_model(s: Sizes,
               prefix: str = '',
               layers: int = 4) -> Dict[str, tuple]:
    """``AlproBaseModel`` with a ``BertForMaskedLM`` text encoder; also
    the whole of ``AlproForVideoTextRetrieval``."""
    shapes = timesformer(prefix, s)
    shapes.update(bert(f'{prefix}text_encoder.bert.', layers, s))
    c = f'{prefix}text_encoder.cls.predictions.'
    t = s.text_width
    shapes.update({
        f'{c}bias': (s.vocab, ),
        f'{c}transform.dense.weight': (t, t),
        f'{c}transform.dense.bias': (t, ),
        f'{c}transform.LayerNorm.weight': (t, ),
        f'{c}transform.LayerNorm.bias': (t, ),
        f'{prefix}vision_proj.weight': (s.embed, s.video_width),
        f'{prefix}vision_proj.bias': (s.embed, ),
        f'{prefix}text_proj.weight': (s.embed, t),
        f'{prefix}text_proj.bias': (s.embed, ),
        f'{prefix}temp': (),
        f'{prefix}itm_head.weight': (2, t),
        f'{prefix}itm_head.bias': (2, ),
    })
    return shapes


def prompter(s: Sizes, prefix: str = '', layers: int = 4) -> Dict[str, tuple]:
    """``Prompter``: the base model and its entity prompt features."""
    shapes = base_model(s, prefix, layers)
    shapes[f'{prefix}video_prompt_feat'] = (s.entities, s.embed)
    shapes[f'{prefix}image_prompt_feat'] = (s.entities, s.embed)
    return shapes


def pretrain(s: Sizes,
             layers: int = 4,
             prompter_layers: int = 4) -> Dict[str, tuple]:
    """``AlproForPretrain``: the base model, ``mpm_head`` (Linear-ReLU-
    Linear) and the whole ``Prompter`` under ``prompter.``."""
    shapes = base_model(s, layers=layers)
    t = s.text_width
    shapes.update({
        'mpm_head.0.weight': (2 * t, t),
        'mpm_head.0.bias': (2 * t, ),
        'mpm_head.2.weight': (s.entities, 2 * t),
        'mpm_head.2.bias': (s.entities, ),
    })
    shapes.update(prompter(s, 'prompter.', prompter_layers))
    return shapes


def video_qa(s: Sizes, answers: int, layers: int = 4) -> Dict[str, tuple]:
    """``AlproForSequenceClassification``: the base model with a
    ``BertModel`` as ``text_encoder`` (no MLM head) and ``classifier``
    (Linear-ReLU-Linear)."""
    shapes = {
        k: v
        for k, v in base_model(s, layers=layers).items()
        if not k.startswith('text_encoder.')
    }
    shapes.update(bert('text_encoder.', layers, s))
    t = s.text_width
    shapes.update({
        'classifier.0.weight': (2 * t, t),
        'classifier.0.bias': (2 * t, ),
        'classifier.2.weight': (answers, 2 * t),
        'classifier.2.bias': (answers, ),
    })
    return shapes


def fill(shapes: Dict[str, tuple],
         positions: int,
         seed: int = 0) -> Dict[str, torch.Tensor]:
    """Distinct random values (none zero); BERT's ties as in a real state
    dict (``decoder.weight`` is the word embeddings, ``decoder.bias`` the
    head's bias) and the ``position_ids`` buffer of ``positions``."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    for key in list(state):
        if key.endswith('cls.predictions.bias'):
            head = key[:-len('bias')]
            words = head.replace('cls.predictions.',
                                 'bert.embeddings.word_embeddings.weight')
            state[f'{head}decoder.weight'] = state[words]
            state[f'{head}decoder.bias'] = state[key]
        if key.endswith('embeddings.word_embeddings.weight'):
            ids = key.replace('word_embeddings.weight', 'position_ids')
            state[ids] = torch.arange(positions).unsqueeze(0)
    return state
