"""ALPRO's text encoder and multimodal fusion encoder: one BERT, split.

The first ``fusion_layer`` layers of BERT encode the text alone; the
remaining layers are the fusion encoder, run as *self*-attention over the
concatenation ``[text tokens ; video tokens]`` under a joint padding mask.
"""
import logging
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn
from torch.utils.checkpoint import checkpoint

from alpro.registry import TEXT_ENCODERS
from alpro.utils.checkpoint import load_state_dict_checked
from alpro.utils.random_weights import reads_weight_files
from .bert_config import (ARCHITECTURE_KEYS, ATTN_IMPLEMENTATION,
                          build_bert_config)

__all__ = ['BertTextFusionEncoder']


def _missing_pretrained_message(path: str) -> str:
    return (f"pretrained BERT folder '{path}' not found (it must hold "
            'config.json and the weights). Save bert-base-uncased there on '
            'a machine with network access: `from transformers import '
            'BertModel, AutoTokenizer; BertModel.from_pretrained('
            f'"bert-base-uncased").save_pretrained("{path}"); '
            'AutoTokenizer.from_pretrained("bert-base-uncased")'
            f'.save_pretrained("{path}")`, then copy the folder here.')


@TEXT_ENCODERS.register_module()
class BertTextFusionEncoder(BaseModule):
    """BERT split into a text encoder and a multimodal fusion encoder, on
    the text encoder contract (:mod:`alpro.models.text_encoders.contract`).

    Layers ``[0, fusion_layer)`` encode the text (:meth:`encode_text`);
    layers ``[fusion_layer, num_hidden_layers)`` fuse text and video by
    bidirectional self-attention over ``[text ; video]`` (:meth:`fuse`), as
    in ALPRO (no cross-attention layers).

    The architecture comes from ``config``; building reads no file. The
    weights of ``pretrained`` are read in :meth:`init_weights` (MMEngine's
    Runner calls it on every child after construction), after its
    ``config.json`` is checked against ``config``.

    Args:
        pretrained: a local Hugging Face folder (``config.json`` and
            weights), e.g. ``data/pretrained/bert-base-uncased``; ``None``
            keeps the random weights.
        config: the architecture: a name of :data:`BERT_ARCHS` or
            ``transformers.BertConfig`` keyword arguments (its defaults, i.e.
            BERT-base's, for the others).
        fusion_layer: index of the first fusion layer, in
            ``(0, num_hidden_layers]``. ALPRO uses 6 of BERT-base's 12.
        text_only: build only the text layers (the stage-1 prompter needs no
            fusion encoder); :meth:`fuse` then raises.
        with_cp: gradient checkpointing of every layer in training, trading
            compute for activation memory.
        fusion_from_text_layers: after every other weight is loaded, start
            fusion layer ``fusion_layer + i`` as a copy of text layer ``i``.
            ALPRO's fusion layers start from BERT-base's upper layers,
            pre-trained on text; a text encoder pre-trained with only as
            many layers as it has text layers (the demo's prompter) has no
            upper layers, and this is the nearest start to ALPRO's (the
            fusion layers hold self-attention and feed-forward weights only,
            the same parameters as a text layer). Needs at least as many
            text layers as fusion layers.
        init_cfg: MMEngine initialisation config.

    Attributes:
        bert (transformers.BertModel): embeddings and layers; later stages
            use ``bert.embeddings`` (the MLM decoder is tied to
            ``bert.embeddings.word_embeddings.weight``) and ``bert.config``.
        hidden_size (int): D, the width of every output.
        vocab_size (int): the token ids the embeddings take.
        word_embeddings (nn.Embedding): ``bert.embeddings.word_embeddings``.
        layer_norm_eps (float): BERT's LayerNorm epsilon.
        num_text_layers (int): layers of the text encoder.
        num_fusion_layers (int): layers of the fusion encoder (0 when
            ``text_only``).
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Union[str, dict] = 'bert-base-uncased',
                 fusion_layer: int = 6,
                 text_only: bool = False,
                 with_cp: bool = False,
                 fusion_from_text_layers: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import BertModel

        bert_config = build_bert_config(config)
        #: the architecture's values that a pretrained folder must share
        self.architecture = {
            key: getattr(bert_config, key)
            for key in ARCHITECTURE_KEYS
        }
        num_layers = bert_config.num_hidden_layers
        if not 0 < fusion_layer <= num_layers:
            raise ValueError(
                f'fusion_layer={fusion_layer} must satisfy 0 < fusion_layer '
                f'<= num_hidden_layers ({num_layers}): layers [0, '
                'fusion_layer) encode the text, the rest fuse')
        num_fusion = 0 if text_only else num_layers - fusion_layer
        if fusion_from_text_layers and not 0 < num_fusion <= fusion_layer:
            raise ValueError(
                'fusion_from_text_layers=True copies text layer i into fusion '
                f'layer i, so it needs fusion layers (here {num_fusion}; '
                f'text_only={text_only}) and no more of them than text layers '
                f'({fusion_layer})')
        if text_only:
            # Never allocate the fusion layers, rather than delete them.
            bert_config.num_hidden_layers = fusion_layer

        self.pretrained = pretrained
        self.fusion_layer = fusion_layer
        self.text_only = text_only
        self.with_cp = with_cp
        self.fusion_from_text_layers = fusion_from_text_layers
        self.bert = BertModel(bert_config, add_pooling_layer=False)
        # BertModel initialised itself in its constructor; MMEngine must not
        # call its ``init_weights`` again (we load pretrained weights in our
        # own ``init_weights``, which must be the last word on them).
        self.bert.is_init = True

        self.hidden_size: int = bert_config.hidden_size
        self.vocab_size: int = bert_config.vocab_size
        self.layer_norm_eps: float = bert_config.layer_norm_eps
        self.num_text_layers: int = fusion_layer
        self.num_fusion_layers: int = num_fusion

    @property
    def word_embeddings(self) -> nn.Embedding:
        """The ``(V, D)`` token embeddings (the MLM decoder ties to them)."""
        return self.bert.embeddings.word_embeddings

    # ------------------------------------------------------------------
    # weights
    # ------------------------------------------------------------------
    def init_weights(self) -> None:
        """Load the pretrained weights, if any, after ``init_cfg``; then,
        with ``fusion_from_text_layers``, copy the text layers into the
        fusion layers.

        Safe to call more than once: the weights end as the pretrained ones.
        """
        super().init_weights()
        if self.pretrained is not None and reads_weight_files():
            self._load_pretrained()
        if self.fusion_from_text_layers:
            self._copy_text_layers_to_fusion()

    @torch.no_grad()
    def _copy_text_layers_to_fusion(self) -> None:
        layers = self.bert.encoder.layer
        for i in range(self.num_fusion_layers):
            layers[self.fusion_layer + i].load_state_dict(
                layers[i].state_dict())
        print_log(
            f'fusion layers {self.fusion_layer}-{len(layers) - 1} start as '
            f'copies of text layers 0-{self.num_fusion_layers - 1}',
            logger='current')

    def _check_architecture(self, path: str) -> None:
        """Refuse a folder whose ``config.json`` differs from ``config`` in
        one of :data:`ARCHITECTURE_KEYS` (the message names each)."""
        from transformers import BertConfig
        saved = BertConfig.from_pretrained(path, local_files_only=True)
        differ = [
            f'{key}: config {value!r}, folder {getattr(saved, key, None)!r}'
            for key, value in self.architecture.items()
            if getattr(saved, key, None) != value
        ]
        if differ:
            raise ValueError(
                f"BertTextFusionEncoder: '{path}/config.json' is another "
                f'architecture than config= ({"; ".join(differ)}); give its '
                'values in config=')
        if saved.is_decoder or saved.add_cross_attention:
            # A decoder's self-attention is causal in transformers 5; the
            # weights are still BERT's, loaded into this encoder.
            print_log(
                f"'{path}/config.json' sets is_decoder or "
                'add_cross_attention; its weights are loaded into a '
                'bidirectional encoder without cross-attention',
                logger='current',
                level=logging.WARNING)

    def _load_pretrained(self) -> None:
        from transformers import BertModel
        path = self.pretrained
        if not osp.isfile(osp.join(path, 'config.json')):
            raise FileNotFoundError(_missing_pretrained_message(path))
        self._check_architecture(path)
        # from_pretrained handles the checkpoint formats and key names of
        # the hub's BERT (``bert.`` prefix, sharded or .bin files).
        source = BertModel.from_pretrained(
            path,
            add_pooling_layer=False,
            attn_implementation=ATTN_IMPLEMENTATION,
            local_files_only=True).state_dict()
        own = self.bert.state_dict()
        state = {k: v for k, v in source.items() if k in own}
        dropped = sorted(set(source) - set(state))
        missing, unexpected = load_state_dict_checked(
            self.bert, state, source=path)
        msg = f"loaded BERT weights from '{path}'"
        if dropped:
            msg += (f'; {len(dropped)} checkpoint keys not in this model '
                    f'(text_only={self.text_only}): {dropped}')
        if missing:
            msg += f'; missing keys (left as initialised): {missing}'
        if unexpected:
            msg += f'; unexpected keys: {unexpected}'
        print_log(
            msg,
            logger='current',
            level=logging.WARNING if missing else logging.INFO)

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _attention_mask(self, hidden: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
        """A bidirectional 4-D mask ``(B, 1, N, N)`` from a padding mask.

        Args:
            hidden: ``(B, N, D)`` the layers' input (gives shape and device).
            mask: ``(B, N)`` 1 for real tokens, 0 for padding.

        Returns:
            torch.Tensor: boolean ``(B, 1, N, N)``, True where attended.
        """
        from transformers.masking_utils import create_bidirectional_mask

        # The helper would return None for an unpadded batch, but finding
        # that out costs ``padding_mask.all()``, a host-device sync on every
        # call, and ALPRO pads text to a fixed length anyway: always build
        # the mask.
        return create_bidirectional_mask(
            config=self.bert.config,
            inputs_embeds=hidden,
            attention_mask=mask,
            allow_is_bidirectional_skip=False)

    def _run_layers(self, hidden: torch.Tensor, mask: torch.Tensor, start: int,
                    end: int) -> torch.Tensor:
        attention_mask = self._attention_mask(hidden, mask)
        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for layer in self.bert.encoder.layer[start:end]:
            # Only hidden states and the mask: no cache, no cross-attention.
            if use_cp:
                out = checkpoint(
                    layer,
                    hidden,
                    attention_mask=attention_mask,
                    use_reentrant=False)
            else:
                out = layer(hidden, attention_mask=attention_mask)
            # BertLayer returns a tensor in transformers 5 (a tuple in 4).
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def encode_text(self, text_ids: torch.Tensor,
                    text_mask: torch.Tensor) -> torch.Tensor:
        """Encode text with the embeddings and the text layers.

        Args:
            text_ids: ``(B, L)`` long token ids.
            text_mask: ``(B, L)`` 1 for real tokens, 0 for padding.

        Returns:
            torch.Tensor: ``(B, L, D)`` text features; position 0 is [CLS].
        """
        if text_ids.shape != text_mask.shape:
            raise ValueError(
                f'text_ids {tuple(text_ids.shape)} and text_mask '
                f'{tuple(text_mask.shape)} must have the same (B, L) shape')
        hidden = self.bert.embeddings(input_ids=text_ids)
        return self._run_layers(hidden, text_mask, 0, self.fusion_layer)

    def fuse(self,
             text_embeds: torch.Tensor,
             text_mask: torch.Tensor,
             video_embeds: torch.Tensor,
             video_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Fuse text and video by self-attention over ``[text ; video]``.

        Args:
            text_embeds: ``(B, L, D)`` from :meth:`encode_text`.
            text_mask: ``(B, L)`` 1 for real tokens, 0 for padding.
            video_embeds: ``(B, Nv, D)`` video tokens (e.g. ``(B, 1 + N,
                D)`` from the video encoder); D must equal
                :attr:`hidden_size`.
            video_mask: ``(B, Nv)`` 1 for real tokens, 0 for padding; all
                ones when None.

        Returns:
            torch.Tensor: ``(B, L + Nv, D)``; ``[:, :L]`` are the text
            positions (``[:, 0]`` the fusion [CLS]), ``[:, L:]`` the video
            positions.
        """
        if self.text_only:
            raise RuntimeError(
                'BertTextFusionEncoder was built with text_only=True: it has '
                'no fusion layers, so fuse() is unavailable; build it with '
                'text_only=False')
        if video_embeds.shape[-1] != self.hidden_size:
            raise ValueError(
                f'video_embeds width {video_embeds.shape[-1]} != the text '
                f'encoder width {self.hidden_size}: project the video tokens '
                'to the text width before fusing')
        batch, num_video = video_embeds.shape[:2]
        if text_embeds.shape[0] != batch:
            raise ValueError(
                f'batch sizes differ: text_embeds {tuple(text_embeds.shape)}'
                f', video_embeds {tuple(video_embeds.shape)}')
        if text_mask.shape != text_embeds.shape[:2]:
            raise ValueError(
                f'text_mask {tuple(text_mask.shape)} does not match '
                f'text_embeds {tuple(text_embeds.shape)}')
        if video_mask is None:
            video_mask = text_mask.new_ones(batch, num_video)
        elif video_mask.shape != video_embeds.shape[:2]:
            raise ValueError(
                f'video_mask {tuple(video_mask.shape)} does not match '
                f'video_embeds {tuple(video_embeds.shape)}')
        hidden = torch.cat([text_embeds, video_embeds], dim=1)
        mask = torch.cat([text_mask.bool(), video_mask.bool()], dim=1)
        return self._run_layers(hidden, mask, self.fusion_layer,
                                len(self.bert.encoder.layer))

    def forward(self, text_ids: torch.Tensor,
                text_mask: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`encode_text` (so ``__call__`` and FLOP counters
        work).

        Args:
            text_ids: ``(B, L)`` long token ids.
            text_mask: ``(B, L)`` 1 for real tokens, 0 for padding.

        Returns:
            torch.Tensor: ``(B, L, D)``.
        """
        return self.encode_text(text_ids, text_mask)

    def extra_repr(self) -> str:
        return (f'fusion_layer={self.fusion_layer}, '
                f'text_only={self.text_only}, with_cp={self.with_cp}, '
                f'fusion_from_text_layers={self.fusion_from_text_layers}')
