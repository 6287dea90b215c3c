"""ALPRO's entity prompter: the frozen stage-1 model turned into a
pseudo-labeller for prompting entity modeling (PEM)."""
import hashlib
import json
import logging
import os.path as osp
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from alpro.registry import PROMPTERS
from alpro.utils.dtypes import resolve_dtype
from alpro.utils.random_weights import reads_weight_files
from ..algorithms.base_video_text_model import check_vocabulary
from ..data_preprocessors.tokenizer import LazyTokenizer
from .frozen_weights import (build_frozen_prompter, initialise_frozen_prompter,
                             precision, precision_name, stored_dtype,
                             vtc_temperature, weights_fingerprint)
from .prompt_templates import PromptTemplates, TemplatesCfg, build_templates

__all__ = ['EntityPrompter']


@PROMPTERS.register_module()
class EntityPrompter(BaseModule):
    """Score video crops against entity prompts with a frozen prompter.

    ALPRO's PEM (paper section 3.3): the stage-1 prompter (a video-text
    dual encoder trained with VTC, :class:`PrompterPretrainer`) embeds every
    entity through an ensemble of prompt templates ("A footage of a {}."),
    averaged and re-normalised, once per run; during stage 2 it embeds a
    random crop of each clip and the softmax of the crop-vs-entity cosine
    similarities over a temperature is the crop's soft pseudo-label.

    The prompter is frozen, always in eval mode, loaded in
    :meth:`init_weights` (:mod:`.frozen_weights`); the entity embeddings
    are cached (:meth:`build_cache`, by ``PromptCacheHook``) until the
    weights, their precision, the tokenizer, the entities or the templates
    change (``docs/checkpoints.md``, "The entity prompter").

    Args:
        prompter: a ``MODELS`` config of the stage-1 model (e.g.
            ``PrompterPretrainer``): a
            :class:`~alpro.models.algorithms.BaseVideoTextModel` with
            projections, whose ``encode_video`` / ``encode_text``
            embeddings it scores; its ``data_preprocessor`` is dropped.
        checkpoint: the stage-1 MMEngine checkpoint; ``None`` keeps a
            random prompter (tests and benchmarks only).
        entity_file: one entity per line, most frequent first
            (``tools/data/build_entity_vocab.py`` writes it).
        tokenizer: ``dict(path=FOLDER)`` of the prompter's fast tokenizer.
        video_templates: a ``PROMPTERS`` config of the templates of video
            samples (a :class:`PromptTemplates`).
        image_templates: the templates of image samples (CC-3M).
        num_entities: E, how many entities to read from ``entity_file``
            (its first E; it must list at least E): the PEM head's size.
        threshold: a pseudo-label is kept when its largest probability is at
            least this (0.2 in the paper).
        temperature: the softmax temperature; ``None`` takes the
            prompter's learned VTC temperature.
        max_length: longest prompt, in tokens, special tokens included.
        encode_batch_size: prompts per text-encoder call when caching.
        renormalize_entities: L2-normalise each entity's mean over its
            templates (ours); ``False``: the plain mean, as the release
            (``docs/checkpoints.md`` has the measured effect).
        weights_dtype: how the frozen prompter's parameters and floating
            buffers are stored: ``None`` / ``'float32'`` (run under bf16
            autocast on CUDA) or ``'bfloat16'`` (half the memory, no re-cast
            of the weights at each step; the VTC temperature stays
            float32).
    """

    def __init__(self,
                 prompter: dict,
                 checkpoint: Optional[str],
                 entity_file: str,
                 tokenizer: dict,
                 video_templates: TemplatesCfg = dict(
                     type='AlproVideoTemplates'),
                 image_templates: TemplatesCfg = dict(
                     type='AlproImageTemplates'),
                 num_entities: int = 1000,
                 threshold: float = 0.2,
                 temperature: Optional[float] = None,
                 max_length: int = 30,
                 encode_batch_size: int = 256,
                 renormalize_entities: bool = True,
                 weights_dtype: Union[None, str, torch.dtype] = None) -> None:
        super().__init__()
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'EntityPrompter: threshold={threshold} is a '
                             'probability and must lie in [0, 1]')
        if temperature is not None and not temperature > 0:
            raise ValueError(f'EntityPrompter: temperature={temperature} '
                             'must be > 0 (or None: the learned one)')
        if encode_batch_size < 1 or max_length < 3:
            raise ValueError(
                'EntityPrompter: need encode_batch_size >= 1 and max_length '
                f'>= 3, got {encode_batch_size} and {max_length}')
        self.threshold = float(threshold)
        self.temperature = (None
                            if temperature is None else float(temperature))
        self.max_length = int(max_length)
        self.encode_batch_size = int(encode_batch_size)
        self.renormalize_entities = bool(renormalize_entities)
        self.checkpoint = checkpoint
        #: the dtype the prompter's weights are stored in (float32 default)
        self.weights_dtype = resolve_dtype(
            weights_dtype, (torch.float32, torch.bfloat16),
            'EntityPrompter: weights_dtype') or torch.float32

        self.prompter = build_frozen_prompter(prompter, self.weights_dtype)

        self.tokenizer = LazyTokenizer(**tokenizer)
        check_vocabulary(self.tokenizer, self.prompter.text_encoder)

        # from the working directory of the build, like the tokenizer's
        self.entity_file = osp.abspath(entity_file)
        self.num_entities = int(num_entities)
        # read when first needed (build_cache), like the tokenizer
        self._entity_names: Optional[Tuple[str, ...]] = None
        self._video_templates = build_templates(video_templates)
        self._image_templates = build_templates(image_templates)

        # Not saved in checkpoints: they are recomputed from the prompter.
        self.register_buffer('video_entity_embeds', None, persistent=False)
        self.register_buffer('image_entity_embeds', None, persistent=False)
        self._cache_key: Optional[str] = None
        #: how many times :meth:`build_cache` computed the embeddings
        self.num_cache_builds = 0
        # what the weights come from; init_weights() sets it
        self._weights_source = 'random'

    # ------------------------------------------------------------ entities
    @property
    def entity_names(self) -> List[str]:
        """The entities, in the order of the embeddings' rows (read from
        ``entity_file`` now if they were not yet)."""
        if self._entity_names is None:
            self._entity_names = self._read_entities(self.entity_file)
        return list(self._entity_names)

    def _read_entities(self, entity_file: str) -> Tuple[str, ...]:
        # imported here: alpro.datasets pulls in the video decoders
        from alpro.datasets.entity_vocab import load_entities
        return tuple(
            load_entities(entity_file, self.num_entities, exactly=True))

    @property
    def num_classes(self) -> int:
        """``E``, the number of entities (``num_entities``)."""
        return self.num_entities

    @property
    def video_templates(self) -> PromptTemplates:
        return self._video_templates

    @property
    def image_templates(self) -> PromptTemplates:
        return self._image_templates

    def set_entities(self, entity_file: str) -> None:
        """Read another entity file (``num_entities`` of it, the PEM head's
        size); drops the cache."""
        self._entity_names = self._read_entities(entity_file)
        self.entity_file = osp.abspath(entity_file)
        self.clear_cache()

    def set_templates(self,
                      video_templates: Optional[TemplatesCfg] = None,
                      image_templates: Optional[TemplatesCfg] = None) -> None:
        """Swap template sets (``None`` keeps one); drops the cache."""
        if video_templates is not None:
            self._video_templates = build_templates(video_templates)
        if image_templates is not None:
            self._image_templates = build_templates(image_templates)
        self.clear_cache()

    # ------------------------------------------------------------- weights
    def train(self, mode: bool = True) -> 'EntityPrompter':
        """Set the mode of this module; the prompter stays in eval mode
        (dropout and drop-path off), because it is a frozen labeller."""
        super().train(mode)
        self.prompter.eval()
        return self

    def init_weights(self) -> None:
        """Load the stage-1 checkpoint into the prompter, once
        (:func:`.frozen_weights.initialise_frozen_prompter`).

        Raises:
            FileNotFoundError: ``checkpoint`` does not exist.
            KeyError: the checkpoint lacks some of the prompter's keys.
        """
        if self._is_init:
            print_log(
                'EntityPrompter is already initialised; init_weights() does '
                'nothing',
                logger='current',
                level=logging.DEBUG)
            return
        checkpoint = self.checkpoint if reads_weight_files() else None
        self._weights_source = initialise_frozen_prompter(
            self.prompter, checkpoint, self.weights_dtype)
        self._is_init = True

    def compute_dtype(self) -> torch.dtype:
        """The dtype the prompter's weights are stored in now."""
        return stored_dtype(self.prompter)

    # --------------------------------------------------------------- cache
    def compute_cache_key(self) -> str:
        """The key the cache would have if built now: a hex SHA-256 of the
        weights' source and fingerprint, their precision, the tokenizer,
        ``max_length``, the renormalisation, the entities, the templates."""
        device = next(self.prompter.parameters()).device
        parts = dict(
            weights=self._weights_source,
            fingerprint=weights_fingerprint(self.prompter),
            precision=precision_name(self.prompter, device),
            tokenizer=[
                getattr(self.tokenizer, 'name_or_path', ''),
                len(self.tokenizer)
            ],
            max_length=self.max_length,
            renormalize=self.renormalize_entities,
            entities=self.entity_names,
            video_templates=list(self._video_templates.templates),
            image_templates=list(self._image_templates.templates))
        blob = json.dumps(parts, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def cache_key(self) -> Optional[str]:
        """The key of the cached embeddings; ``None`` before the cache is
        built."""
        return self._cache_key

    @property
    def is_cached(self) -> bool:
        return self.video_entity_embeds is not None

    def clear_cache(self) -> None:
        """Forget the entity embeddings (the next build recomputes)."""
        self.video_entity_embeds = None
        self.image_entity_embeds = None
        self._cache_key = None

    @torch.no_grad()
    def encode_entities(self, templates: PromptTemplates) -> Tensor:
        """Embed every entity through a template ensemble.

        Each entity's prompts are embedded by the prompter's text encoder
        (unit vectors), averaged and, with ``renormalize_entities``,
        L2-normalised again (paper, appendix A.1: the ensemble is built in
        the embedding space). The text encoder runs in the same precision
        as the crops in :meth:`pseudo_labels`.

        Args:
            templates: ``K`` templates.

        Returns:
            ``(E, D)`` float32 (unit rows when renormalised), on the
            prompter's device.
        """
        device = next(self.prompter.parameters()).device
        prompts = [
            p for name in self.entity_names for p in templates.fill(name)
        ]
        _, context = precision(self.prompter, device)
        chunks = []
        for start in range(0, len(prompts), self.encode_batch_size):
            encoded = self.tokenizer(
                prompts[start:start + self.encode_batch_size],
                max_length=self.max_length,
                padding='longest',
                truncation=True,
                return_tensors='pt')
            with context:
                _, embeds = self.prompter.encode_text(
                    encoded['input_ids'].to(device),
                    encoded['attention_mask'].to(device))
            chunks.append(embeds.float())
        embeds = torch.cat(chunks).view(self.num_classes, len(templates), -1)
        mean = embeds.mean(1)
        return F.normalize(mean, dim=-1) if self.renormalize_entities else mean

    def build_cache(self) -> bool:
        """Compute the entity embeddings of both template sets, unless the
        cache is already up to date.

        Returns:
            whether the embeddings were (re)computed.
        """
        key = self.compute_cache_key()
        if self.is_cached and key == self._cache_key:
            return False
        video = self.encode_entities(self._video_templates)
        image = (
            video if self._image_templates == self._video_templates else
            self.encode_entities(self._image_templates))
        self.video_entity_embeds = video
        self.image_entity_embeds = image
        self._cache_key = key
        self.num_cache_builds += 1
        return True

    # ------------------------------------------------------- pseudo-labels
    def current_temperature(self) -> Union[float, Tensor]:
        """``temperature`` if given, else the prompter's VTC temperature,
        clamped to the bounds ``VTCHead`` keeps it in (out of place: the
        prompter is frozen)."""
        if self.temperature is not None:
            return self.temperature
        return vtc_temperature(self.prompter)

    @torch.no_grad()
    def pseudo_labels(
            self,
            crop_video: Tensor,
            is_image: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Soft entity pseudo-labels of video crops.

        ``probs = softmax(normalize(prompter(crop)) @ E.T / temp)``, with
        ``E`` the image templates' entity embeddings for image samples and
        the video templates' otherwise. A sample is kept when its largest
        probability is at least ``threshold``, as in the paper. No host
        sync: usable inside a training step. The crops are embedded in the
        prompter's precision (:func:`.frozen_weights.precision`), the
        scoring is float32.

        Args:
            crop_video: ``(B, C, T, H, W)`` float, normalised like the
                prompter's inputs; cast to the weights' dtype here.
            is_image: ``(B,)`` bool, ``True`` for image samples; ``None``
                means all are videos.

        Returns:
            ``probs`` ``(B, E)`` float32, rows summing to 1, and ``keep``
            ``(B,)`` bool.

        Raises:
            RuntimeError: the cache is not built.
        """
        if not self.is_cached:
            raise RuntimeError(
                'EntityPrompter: no entity embeddings; call build_cache() '
                'first; the PromptCacheHook does it before training '
                "(custom_hooks=[dict(type='PromptCacheHook')])")
        if crop_video.dim() != 5:
            raise ValueError('EntityPrompter.pseudo_labels: crop_video must '
                             'be (B, C, T, H, W), got shape '
                             f'{tuple(crop_video.shape)}')
        dtype, context = precision(self.prompter, crop_video.device)
        if dtype is not None:
            crop_video = crop_video.to(dtype)
        with context:
            _, video = self.prompter.encode_video(crop_video)
        # Score in float32: the temperature (~0.07) magnifies bf16's error.
        # (.float() of the float32 cache is free; it guards against a model
        # cast to bf16 as a whole, whose cache is rebuilt at the next
        # build_cache.)
        with torch.autocast(crop_video.device.type, enabled=False):
            video = video.float()
            sim = video @ self.video_entity_embeds.float().t()
            if is_image is not None:
                if is_image.shape != (video.size(0), ):
                    raise ValueError(
                        'EntityPrompter.pseudo_labels: is_image must be '
                        f'({video.size(0)},), got {tuple(is_image.shape)}')
                image_sim = video @ self.image_entity_embeds.float().t()
                is_image = is_image.to(device=sim.device, dtype=torch.bool)
                sim = torch.where(is_image.unsqueeze(-1), image_sim, sim)
            probs = torch.softmax(sim / self.current_temperature(), dim=-1)
        keep = probs.max(dim=-1).values >= self.threshold
        return probs, keep

    def topk(self, probs: Tensor, k: int = 3) -> List[List[str]]:
        """The names of each row's ``k`` most probable entities (host side,
        for visualisation: it syncs).

        Args:
            probs: ``(B, E)``.
            k: how many names per row (at most ``E``).

        Returns:
            ``B`` lists of names, most probable first.
        """
        k = min(int(k), probs.size(-1))
        index = probs.detach().topk(k, dim=-1).indices.cpu().tolist()
        names = self.entity_names
        return [[names[i] for i in row] for row in index]
