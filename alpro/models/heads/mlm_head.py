"""Masked language modeling (MLM) head: BERT's, from transformers, and
its loss."""
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLMPredictionHead

from alpro.registry import HEADS

__all__ = ['MLMHead']


@HEADS.register_module()
class MLMHead(BaseModule):
    """BERT's LM head: ``Linear -> act -> LayerNorm -> decoder`` to the
    vocabulary, built from transformers' ``BertLMPredictionHead``.

    The decoder's weight is meant to be the word embeddings of the text
    encoder (:meth:`tie_weights`), as in BERT and ALPRO; its bias is the
    head's own. transformers 5 holds that bias twice (``predictions.bias``
    and ``predictions.decoder.bias``) and ties them only inside
    ``BertForMaskedLM``; here they are made one Parameter at construction.

    Parameter names match BERT checkpoints' ``cls.predictions.*`` less the
    ``cls.`` prefix (``predictions.transform.dense.weight``,
    ``predictions.bias``, ...), so a pretrained head loads with that one
    key map.

    Weights are initialised here as BERT does (normal, std 0.02; zero
    biases). ``init_cfg`` is passed on to MMEngine, but beware: an
    initialiser that reaches the decoder after :meth:`tie_weights`
    re-initialises the word embeddings it shares.

    Args:
        hidden_size: D, the width of the fusion encoder's outputs.
        vocab_size: V, the tokenizer's vocabulary size.
        hidden_act: the transform's activation (a transformers name).
        layer_norm_eps: the transform's LayerNorm epsilon.
        init_cfg: MMEngine initialisation config; None by default.
    """

    def __init__(self,
                 hidden_size: int,
                 vocab_size: int,
                 hidden_act: str = 'gelu',
                 layer_norm_eps: float = 1e-12,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        config = BertConfig(
            hidden_size=hidden_size,
            vocab_size=vocab_size,
            hidden_act=hidden_act,
            layer_norm_eps=layer_norm_eps)
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.predictions = BertLMPredictionHead(config)
        # one bias, whichever name a checkpoint uses
        self.predictions.decoder.bias = self.predictions.bias
        std = config.initializer_range
        for linear in (self.predictions.transform.dense,
                       self.predictions.decoder):
            nn.init.normal_(linear.weight, std=std)
            nn.init.zeros_(linear.bias)

    @property
    def decoder_weight(self) -> nn.Parameter:
        """``(V, D)``: the decoder's weight (the word embeddings once
        tied)."""
        return self.predictions.decoder.weight

    def tie_weights(self, word_embeddings: nn.Embedding) -> None:
        """Make the decoder's weight THE word embeddings' Parameter.

        Call it after the text encoder is built (and before the optimiser
        is): the head then has no decoder weight of its own, and both
        modules read and train the one Parameter.

        Args:
            word_embeddings: ``(V, D)`` the text encoder's
                ``bert.embeddings.word_embeddings``.
        """
        expected = (self.vocab_size, self.hidden_size)
        if tuple(word_embeddings.weight.shape) != expected:
            raise ValueError(
                'MLMHead.tie_weights: the word embeddings are '
                f'{tuple(word_embeddings.weight.shape)}, the head expects '
                f'(vocab_size, hidden_size) = {expected}; build the head with '
                "the text encoder's vocab_size and hidden_size")
        self.predictions.decoder.weight = word_embeddings.weight

    def forward(self, hidden: Tensor) -> Tensor:
        """Score the vocabulary at each position.

        Args:
            hidden: ``(B, L, D)`` fusion outputs of the text tokens (or
                ``(M, D)``, only the positions to predict).

        Returns:
            ``(B, L, V)`` (or ``(M, V)``) logits.
        """
        return self.predictions(hidden)

    def loss(self, hidden: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """MLM loss and accuracy.

        Args:
            hidden: ``(B, L, D)`` fusion outputs of the masked captions'
                text part.
            labels: ``(B, L)`` the masked tokens' ids, -100 where nothing
                is predicted.

        Returns:
            ``loss_mlm``, the mean cross-entropy over the predicted tokens
            (0, not NaN, when a batch has none: the masking is random),
            and ``mlm_acc``.
        """
        logits = self(hidden).float()
        chosen = labels != -100
        count = chosen.sum().clamp(min=1)
        correct = (logits.argmax(-1) == labels) & chosen
        loss = F.cross_entropy(
            logits.flatten(0, 1),
            labels.flatten(),
            ignore_index=-100,
            reduction='sum') / count
        return dict(loss_mlm=loss, mlm_acc=correct.sum() / count)
