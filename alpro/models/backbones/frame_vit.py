"""FrameViT: any timm ViT-like image model, run frame by frame."""
import logging
import sys
from typing import Optional, Tuple, Union

import timm
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize
from timm.models import clean_state_dict

from alpro.registry import BACKBONES
from alpro.utils.checkpoint import load_state_dict_checked
from alpro.utils.random_weights import reads_weight_files
from .vit_checkpoint import check_pretrained_file, load_state_dict_file

__all__ = ['FrameViT']


@BACKBONES.register_module()
class FrameViT(BaseModule):
    """A timm image transformer applied to every frame, tokens averaged
    over time (the CLIP4Clip mean-pooling baseline).

    Same contract as :class:`TimeSformer`, so that a config swaps one for the
    other by its ``type``: input ``(B, C, T, H, W)``, output
    ``(B, 1 + N, D)`` -- the model's [CLS] output averaged over frames (the
    mean of the patch tokens for a model without one), then the N patch
    tokens, row-major over the patch grid, each averaged over frames. Other
    prefix tokens (registers, distillation) are dropped.

    Args:
        model_name: a timm model with patch tokens (``patch_embed`` and
            ``num_prefix_tokens``: ViT, DeiT, EVA, BEiT, ...), e.g.
            ``'vit_base_patch16_224'``. Never downloaded.
        img_size: frame size, passed to ``timm.create_model``; ``None`` for
            the model's own default (and for models that take no
            ``img_size``).
        num_frames: T the model is meant for (any T works).
        with_cp: gradient checkpointing inside the timm model.
        pretrained: local checkpoint of that model (``.safetensors``,
            ``.pth``, ``.bin``, or ``.npz`` where the timm model reads one),
            loaded by :meth:`init_weights`: pickled files through alpro's
            safe loader (``torch.load(weights_only=True)``, nothing unsafe
            allow-listed, whatever the timm version), then the model
            family's ``checkpoint_filter_fn`` (which resamples position
            embeddings); a tensor whose shape still differs is an error.
        init_cfg: MMEngine init config, applied after the above.
        **model_kwargs: more arguments of ``timm.create_model`` (e.g.
            ``embed_dim``, ``depth``, ``reg_tokens``, ``drop_path_rate``).

    Raises:
        ValueError: the model has no patch tokens.
    """

    def __init__(self,
                 model_name: str = 'vit_base_patch16_224',
                 img_size: Optional[Union[int, Tuple[int, int]]] = 224,
                 num_frames: int = 4,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, list]] = None,
                 **model_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if img_size is not None:
            model_kwargs['img_size'] = img_size
        self.model_name = model_name
        self.pretrained = pretrained
        self.num_frames = int(num_frames)
        # Weights come from init_weights(), never from the hub.
        self.model = timm.create_model(
            model_name, pretrained=False, num_classes=0, **model_kwargs)
        patch_embed = getattr(self.model, 'patch_embed', None)
        if patch_embed is None or not hasattr(self.model, 'num_prefix_tokens'):
            raise ValueError(
                f'FrameViT needs a timm model with patch tokens (a '
                f'`patch_embed` and `num_prefix_tokens`, as ViT, DeiT, EVA, '
                f'BEiT have); {model_name!r} ({type(self.model).__name__}) '
                'has none')
        self.num_prefix_tokens = int(self.model.num_prefix_tokens)
        self.has_cls_token = (
            self.num_prefix_tokens >= 1
            and getattr(self.model, 'cls_token', None) is not None)
        self.embed_dims = int(self.model.num_features)
        self.patch_size = self._patch_size(patch_embed)
        if with_cp:
            self.set_grad_checkpointing(True)

    @staticmethod
    def _patch_size(patch_embed: torch.nn.Module) -> int:
        if hasattr(patch_embed, 'feat_ratio'):
            size = patch_embed.feat_ratio(as_scalar=False)
        else:
            size = patch_embed.patch_size
        size = tuple(size) if isinstance(size, (tuple, list)) else (size, )
        return int(max(size))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Checkpoint the timm model's blocks in training (or not)."""
        self.model.set_grad_checkpointing(enable)

    def init_weights(self) -> None:
        """Load ``pretrained`` if set, else re-run timm's random init.

        Loading happens here, not in ``__init__``, because MMEngine's Runner
        calls ``init_weights()`` on every child (and timm models have one
        that re-randomises). Once done, later calls do nothing.
        """
        if self._is_init:
            print_log(
                'FrameViT is already initialised; init_weights() does '
                'nothing',
                logger='current',
                level=logging.DEBUG)
            return
        if self.pretrained and reads_weight_files():
            self._load_pretrained(self.pretrained)
        elif hasattr(self.model, 'init_weights'):
            self.model.init_weights()
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    def _load_pretrained(self, path: str) -> None:
        hint = (f"save timm's {self.model_name!r} weights there on a machine "
                'with network, e.g. `torch.save(timm.create_model('
                f"'{self.model_name}', pretrained=True).state_dict(), PATH)` "
                'or with safetensors.torch.save_file; alpro never downloads')
        path = check_pretrained_file(path, hint=hint)
        if path.endswith('.npz'):
            # Google's JAX files: numpy arrays, read by the model itself
            # (np.load without pickles)
            if not hasattr(self.model, 'load_pretrained'):
                raise ValueError(
                    f'{path}: {type(self.model).__name__} cannot read an '
                    '.npz file; give a .safetensors or .pth state dict')
            self.model.load_pretrained(path)
            print_log(
                f'FrameViT: loaded {path} into {self.model_name}',
                logger='current')
            return
        # Never timm's load_checkpoint: before the timm versions that pass
        # weights_only=True it unpickles anything.
        state_dict = clean_state_dict(load_state_dict_file(path, hint=hint))
        # The model family's own filter adapts foreign layouts and
        # resamples position embeddings to this img_size.
        family = sys.modules.get(type(self.model).__module__)
        filter_fn = getattr(family, 'checkpoint_filter_fn', None)
        if filter_fn is not None:
            state_dict = filter_fn(state_dict, self.model)
        incompatible = load_state_dict_checked(
            self.model, state_dict, source=path)
        # The classifier was removed (num_classes=0): its keys are expected.
        unexpected = [
            k for k in incompatible.unexpected_keys
            if not k.startswith(('head.', 'fc_norm.', 'head_dist.'))
        ]
        missing = incompatible.missing_keys
        print_log(
            f'FrameViT: loaded {path} into {self.model_name}; '
            f'{len(missing)} missing keys (left randomly initialised), '
            f'{len(unexpected)} unexpected keys (ignored)' +
            ('; the keys at DEBUG level' if missing or unexpected else ''),
            logger='current',
            level=logging.WARNING if missing or unexpected else logging.INFO)
        if missing or unexpected:
            print_log(
                f'FrameViT: missing keys: {", ".join(missing) or "none"}; '
                f'unexpected keys: {", ".join(unexpected) or "none"}',
                logger='current',
                level=logging.DEBUG)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """
        Args:
            video: ``(B, C, T, H, W)`` float, normalised.

        Returns:
            ``(B, 1 + N, D)``: [CLS] then N patch tokens, averaged over T.
        """
        if video.dim() != 5:
            raise ValueError(f'FrameViT expects a (B, C, T, H, W) video, '
                             f'got shape {tuple(video.shape)}')
        B, C, T, H, W = video.shape
        frames = video.transpose(1, 2).reshape(B * T, C, H, W)
        tokens = self.model.forward_features(frames)
        if tokens.dim() != 3:
            raise ValueError(
                f'{self.model_name}.forward_features gave shape '
                f'{tuple(tokens.shape)}, not (B*T, prefix + N, D)')
        tokens = tokens.reshape(B, T, *tokens.shape[1:]).mean(1)
        patches = tokens[:, self.num_prefix_tokens:]
        if self.has_cls_token:
            cls = tokens[:, :1]
        else:
            cls = patches.mean(1, keepdim=True)
        return torch.cat([cls, patches], dim=1)
