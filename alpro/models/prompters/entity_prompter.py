"""ALPRO's entity prompter: the frozen stage-1 model turned into a
pseudo-labeller for prompting entity modeling (PEM)."""
import contextlib
import copy
import hashlib
import json
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from alpro.registry import MODELS, PROMPTERS
from alpro.utils.checkpoint import (load_checkpoint_safely,
                                    load_state_dict_checked)
from alpro.utils.dtypes import resolve_dtype
from alpro.utils.renamed_keys import rename_old_keys
from ..algorithms.base_video_text_model import check_vocabulary
from ..data_preprocessors.video_text_data_preprocessor import load_tokenizer
from .prompt_templates import PromptTemplates

__all__ = ['EntityPrompter']

TemplatesCfg = Union[dict, PromptTemplates, Sequence[str]]

_TRAIN_PROMPTER_HINT = (
    'train the prompter first: python tools/train.py '
    'configs/alpro/pretrain_prompter_webvid.py (the demo: python '
    'tools/train.py configs/demo/pretrain_prompter.py) and point '
    'checkpoint= at the checkpoint it writes under work_dirs/')


def build_templates(cfg: TemplatesCfg) -> PromptTemplates:
    """A template set from a ``PROMPTERS`` config, an instance, or a list of
    sentences."""
    if isinstance(cfg, PromptTemplates):
        return cfg
    if isinstance(cfg, dict):
        templates = PROMPTERS.build(cfg)
        if not isinstance(templates, PromptTemplates):
            raise TypeError(
                f'{cfg!r} built a {type(templates).__name__}, not a '
                'PromptTemplates set; name a template class such as '
                "'AlproVideoTemplates'")
        return templates
    return PromptTemplates(cfg)


def _autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing elsewhere (CPU runs in float32)."""
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return contextlib.nullcontext()


@PROMPTERS.register_module()
class EntityPrompter(BaseModule):
    """Score video crops against entity prompts with a frozen prompter.

    ALPRO's PEM (paper section 3.3): the stage-1 prompter (a video-text
    dual encoder trained with VTC, :class:`PrompterPretrainer`) embeds every
    entity through an ensemble of prompt templates ("A footage of a {}."),
    averaged and re-normalised, once per run; during stage 2 it embeds a
    random crop of each clip and the softmax of the crop-vs-entity cosine
    similarities over a temperature is the crop's soft pseudo-label.

    Weights: the prompter is frozen (``requires_grad=False``) and always in
    eval mode, whatever ``train()`` the Runner calls. Its stage-1
    checkpoint is loaded in :meth:`init_weights`, not in ``__init__``:
    MMEngine's ``Runner.train()`` calls ``init_weights()`` on the model
    before training and would otherwise re-randomise it. ``Runner.val()``
    and ``Runner.test()`` do not call ``init_weights()``; there the
    prompter's weights come from the stage-2 checkpoint (``load_from``),
    which holds them as parameters of the model.

    Precision: by default the weights are float32 and the prompter runs
    under bf16 autocast on CUDA (float32 elsewhere). With
    ``weights_dtype='bfloat16'`` they are stored in bf16 (from
    ``__init__`` on, and again after :meth:`init_weights` loads the
    checkpoint) and the prompter runs in bf16 on every device, autocast off:
    crops and prompts go through it in bf16, and only the scoring
    (similarities, temperature, softmax) is float32. The VTC temperature
    (``prompter.vtc_head``) stays float32: it is used by the scoring
    only. :meth:`pseudo_labels` and :meth:`build_cache` follow the dtype the
    weights are stored in when they run, so casting the model later
    (``.float()``) is obeyed too.

    Cache: :meth:`build_cache` (called by ``PromptCacheHook`` before
    training, validation and testing) fills the non-persistent buffers
    ``video_entity_embeds`` and ``image_entity_embeds`` ``(E, D)``. It is
    keyed by the weights (their checkpoint file's path, size and mtime, or
    ``'random'``, plus a fingerprint of their values), the precision the
    prompter computes in (see above: the entity embeddings must be
    computed in the crops' precision to be comparable with them), the
    tokenizer, the entities and the templates, and recomputes only when one
    of them changed. The precision is in the key on its own because the
    fingerprint alone may not change with it (weights that are exactly
    representable in bf16 have the same sums in both dtypes).

    Args:
        prompter: a ``MODELS`` config of the stage-1 model (e.g.
            ``PrompterPretrainer``): a
            :class:`~alpro.models.algorithms.BaseVideoTextModel` with
            projections, whose ``encode_video`` / ``encode_text``
            embeddings it scores; its ``data_preprocessor`` is dropped.
        checkpoint: the stage-1 MMEngine checkpoint (its ``state_dict``
            holds the prompter's keys: ``backbone.*``, ``text_encoder.*``,
            ``vision_proj.*``, ``text_proj.*``, ``vtc_head.temp``).
            ``None`` keeps a random prompter: for tests and benchmarks only.
        entity_file: the entity vocabulary, one entity per line (its first
            token), most frequent first
            (``tools/data/build_entity_vocab.py`` writes it).
        tokenizer: ``dict(path=FOLDER)`` of the prompter's fast tokenizer.
        video_templates: a ``PROMPTERS`` config of the templates of video
            samples (a :class:`PromptTemplates`).
        image_templates: the templates of image samples (CC-3M).
        num_entities: how many entities to read from ``entity_file``.
        threshold: a pseudo-label is kept when its largest probability is at
            least this (0.2 in the paper).
        temperature: the softmax temperature; ``None`` takes the
            prompter's learned VTC temperature.
        max_length: longest prompt, in tokens, special tokens included.
        encode_batch_size: prompts per text-encoder call when caching.
        renormalize_entities: L2-normalise each entity's mean over its
            templates (ours, default). ``False`` keeps the plain mean of the
            unit template embeddings, as the released code does; its norm
            is a little under 1 and scales that entity's logits
            (``docs/checkpoints.md`` has the measured effect).
        weights_dtype: how the frozen prompter's parameters and floating
            buffers are stored: ``None`` (or ``'float32'``) keeps float32;
            ``'bfloat16'`` stores them in bf16 (the VTC temperature
            excepted), which halves their memory and saves, on CUDA, the
            re-cast of every weight at every step: autocast caches the
            bf16 copies only of leaf tensors that require grad, so a frozen
            float32 prompter is cast anew at each call (TimeSformer-B,
            ~121M weights: ~210 cast kernels and ~0.85 GB of memory
            traffic per step; bf16 weights: one cast, of the crops).
            Stage-2 checkpoints load either way: ``load_state_dict`` casts
            each tensor to the parameter's dtype. ``torch.bfloat16`` is
            accepted too.
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

        prompter = copy.deepcopy(dict(prompter))
        # the prompter sees tensors only; tokenising is done here, once
        prompter.pop('data_preprocessor', None)
        self.prompter = MODELS.build(prompter)
        for method in ('encode_video', 'encode_text'):
            if not callable(getattr(self.prompter, method, None)):
                raise TypeError(
                    f'EntityPrompter: the prompter '
                    f'{type(self.prompter).__name__} has no {method}(); use '
                    'a stage-1 model such as PrompterPretrainer')
        if getattr(self.prompter, 'vision_proj', True) is None:
            # a BaseVideoTextModel built without embed_dim: its embeddings
            # are None
            raise TypeError(
                f'EntityPrompter: the prompter {type(self.prompter).__name__} '
                'has no contrastive projections (embed_dim), so its '
                'encode_video() / encode_text() give no embeddings to score; '
                'use a stage-1 model such as PrompterPretrainer')
        self.prompter.requires_grad_(False)
        self.prompter.eval()
        # Already here, not only in init_weights(): Runner.val() / test()
        # do not call init_weights(), and load_from then copies the stage-2
        # checkpoint's values into these parameters, whatever its dtype.
        self._store_weights()

        self.tokenizer = load_tokenizer(**tokenizer)
        text_encoder = getattr(self.prompter, 'text_encoder', None)
        if hasattr(getattr(text_encoder, 'bert', None), 'config'):
            check_vocabulary(self, text_encoder)

        self.entity_file = entity_file
        self.num_entities = int(num_entities)
        self._entity_names: Tuple[str, ...] = self._read_entities(
            entity_file, self.num_entities)
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
    @staticmethod
    def _read_entities(entity_file: str, num_entities: int) -> Tuple[str, ...]:
        # imported here: alpro.datasets pulls in the video decoders
        from alpro.datasets.entity_vocab import load_entities
        return tuple(load_entities(entity_file, num_entities))

    @property
    def entity_names(self) -> List[str]:
        """The entities, in the order of the embeddings' rows."""
        return list(self._entity_names)

    @property
    def num_classes(self) -> int:
        """``E``, the number of entities."""
        return len(self._entity_names)

    @property
    def video_templates(self) -> PromptTemplates:
        return self._video_templates

    @property
    def image_templates(self) -> PromptTemplates:
        return self._image_templates

    def set_entities(self,
                     entity_file: str,
                     num_entities: Optional[int] = None) -> None:
        """Read another entity vocabulary; drops the cache.

        Args:
            entity_file: one entity per line.
            num_entities: how many to read (default: as before).
        """
        if num_entities is not None:
            self.num_entities = int(num_entities)
        self._entity_names = self._read_entities(entity_file,
                                                 self.num_entities)
        self.entity_file = entity_file
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
        """Load the stage-1 checkpoint into the prompter (once).

        The prompter's submodules are then marked initialised, so that
        MMEngine never re-randomises them; later calls do nothing.

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
        if self.checkpoint is None:
            print_log(
                'EntityPrompter: checkpoint=None, the prompter is RANDOM: its '
                'pseudo-labels are noise (fine for tests and benchmarks '
                'only). ' + _TRAIN_PROMPTER_HINT,
                logger='current',
                level=logging.WARNING)
            if self.weights_dtype != torch.float32:
                # initialised in float32 (MMEngine's initialisers need not
                # support bf16), stored in weights_dtype below
                self.prompter.float()
            self.prompter.init_weights()
            self._weights_source = 'random'
        else:
            # load_state_dict casts the checkpoint's tensors to the dtype of
            # the parameters
            self._load_checkpoint(self.checkpoint)
        self._store_weights()
        for module in self.prompter.modules():
            if hasattr(module, 'init_weights'):
                module.is_init = True
        self._is_init = True

    def _store_weights(self) -> None:
        """Store the prompter's floating parameters and buffers in
        ``weights_dtype``; its VTC temperature stays float32 (it only
        scales the float32 similarities). Parameters stay the same objects
        (``requires_grad=False``)."""
        dtype = self.weights_dtype
        if dtype == torch.float32:
            return
        # child by child: a round trip of the temperature through bf16
        # would round it (0.07 -> 0.0698)
        for name, child in self.prompter.named_children():
            if name != 'vtc_head':
                child.to(dtype)
        self.prompter._apply(
            lambda t: t.to(dtype) if t.is_floating_point() else t,
            recurse=False)

    def compute_dtype(self) -> torch.dtype:
        """The dtype the prompter's weights are stored in now (that of its
        first floating parameter outside ``vtc_head``): float32 (run under
        autocast on CUDA) or e.g. bf16 (run in bf16, autocast off)."""
        for name, param in self.prompter.named_parameters():
            if param.is_floating_point() and not name.startswith('vtc_head.'):
                return param.dtype
        return torch.float32

    def _precision(self, device: torch.device):
        """``(dtype, context)``: the dtype the prompter's inputs must be
        cast to (``None``: leave them) and the context to run it in."""
        dtype = self.compute_dtype()
        if dtype == torch.float32:
            return None, _autocast(device)
        # weights already in dtype: nothing to cast, and an outer autocast
        # (the optim wrapper's) would only add casts to float32 and back
        return dtype, torch.autocast(device.type, enabled=False)

    def _precision_name(self, device: torch.device) -> str:
        dtype = self.compute_dtype()
        if dtype == torch.float32 and device.type == 'cuda':
            return 'float32 weights, bfloat16 autocast'
        return str(dtype)

    def _load_checkpoint(self, checkpoint: str) -> None:
        path = osp.abspath(osp.expanduser(checkpoint))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"prompter checkpoint '{checkpoint}' not found: "
                f'{_TRAIN_PROMPTER_HINT}')
        ckpt = load_checkpoint_safely(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt,
                                                           dict) else None
        if not isinstance(state, dict):
            raise TypeError(f"prompter checkpoint '{checkpoint}' holds no "
                            'state_dict; expected an MMEngine checkpoint of '
                            'stage 1')
        if state and all(k.startswith('module.') for k in state):
            # a state dict saved from inside a DDP wrapper
            state = {k[len('module.'):]: v for k, v in state.items()}
        rename_old_keys(state)
        expected = self.prompter.state_dict()
        missing = [k for k in expected if k not in state]
        if missing:
            shown = ', '.join(missing[:10])
            if len(missing) > 10:
                shown += f' and {len(missing) - 10} more'
            raise KeyError(
                f"prompter checkpoint '{checkpoint}' lacks {len(missing)} of "
                f'the prompter\'s keys: {shown}. Is it a stage-1 '
                'PrompterPretrainer checkpoint with the same backbone and '
                'text_encoder config as EntityPrompter.prompter?')
        unexpected = sorted(set(state) - set(expected))
        if unexpected:
            print_log(
                f'EntityPrompter: ignoring {len(unexpected)} keys of '
                f'{checkpoint} that the prompter does not have: '
                f'{", ".join(unexpected[:10])}',
                logger='current',
                level=logging.WARNING)
        load_state_dict_checked(
            self.prompter, {k: state[k]
                            for k in expected},
            source=f"prompter checkpoint '{checkpoint}'")
        stat = os.stat(path)
        self._weights_source = f'{path}|{stat.st_size}|{stat.st_mtime_ns}'
        print_log(
            f'EntityPrompter: loaded the prompter from {checkpoint}',
            logger='current')

    # --------------------------------------------------------------- cache
    def _weights_fingerprint(self) -> List[float]:
        """Sums of every weight of the prompter: one host sync, once per
        :meth:`build_cache`, so that weights replaced after
        :meth:`init_weights` (e.g. by ``load_from``) are noticed."""
        tensors = [
            t for t in self.prompter.state_dict().values()
            if torch.is_floating_point(t)
        ]
        if not tensors:
            return []
        stats = torch.stack([
            torch.stack([t.float().sum(),
                         t.float().abs().sum()]) for t in tensors
        ])
        return stats.cpu().flatten().tolist()

    def compute_cache_key(self) -> str:
        """The key the cache would have if built now.

        Returns:
            a hex SHA-256 of the weights' source and fingerprint, the
            precision the prompter computes in on its device, the
            tokenizer, ``max_length``, the renormalisation, the entities and
            both template sets.
        """
        device = next(self.prompter.parameters()).device
        parts = dict(
            weights=self._weights_source,
            fingerprint=self._weights_fingerprint(),
            precision=self._precision_name(device),
            tokenizer=[
                getattr(self.tokenizer, 'name_or_path', ''),
                len(self.tokenizer)
            ],
            max_length=self.max_length,
            renormalize=self.renormalize_entities,
            entities=list(self._entity_names),
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
            p for name in self._entity_names for p in templates.fill(name)
        ]
        _, context = self._precision(device)
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
        vtc = getattr(self.prompter, 'vtc_head', None)
        temp = getattr(vtc, 'temp', None)
        if temp is None:
            raise AttributeError(
                'EntityPrompter: the prompter has no vtc_head.temp; give '
                'temperature= explicitly')
        return temp.detach().float().clamp(
            getattr(vtc, 'min_temperature', 0.001),
            getattr(vtc, 'max_temperature', 0.5))

    @torch.no_grad()
    def pseudo_labels(
            self,
            crop_video: Tensor,
            is_image: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Soft entity pseudo-labels of video crops.

        ``probs = softmax(normalize(prompter(crop)) @ E.T / temp)``, with
        ``E`` the image templates' entity embeddings for image samples and
        the video templates' otherwise. A sample is kept when its largest
        probability is at least ``threshold``, as in the paper. (The
        released ALPRO code compares the arg-max INDEX of the raw
        similarities with 0.2, which drops only the samples whose top entity
        is entity 0; we follow the paper.)

        No host sync: usable inside a training step.

        Precision: the prompter embeds the crops in the dtype its weights
        are stored in (``weights_dtype``), autocast off; with float32
        weights, under bf16 autocast on CUDA. The scoring is float32.

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
        dtype, context = self._precision(crop_video.device)
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
        return [[self._entity_names[i] for i in row] for row in index]
