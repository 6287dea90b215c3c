"""A downstream task: classify clips among named classes, starting from
the zero-shot classifier that the class names' prompts give."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alpro.models.algorithms import BaseVideoTextModel
from alpro.registry import MODELS
from alpro.structures import VideoTextDataSample

__all__ = ['PromptVideoClassifier']


@MODELS.register_module()
class PromptVideoClassifier(BaseVideoTextModel):
    """Video classification (actions, directions, ...) in the contrastive
    space of a video-text dual encoder.

    Each class is an embedding ``(E,)``; a clip's logits are the cosines
    of its video embedding with them over ``temperature``. The embeddings
    start, in :meth:`init_weights` (after any checkpoint is loaded), as the
    text embeddings of ``template`` filled with each class name: the
    zero-shot classifier of a stage-1 or stage-2 model (as CLIP's prompts);
    training with cross-entropy on the samples' ``label`` fine-tunes them
    and the encoders. The batches are video-only (samples without
    ``text``).

    Args:
        backbone: ``BACKBONES`` config.
        text_encoder: ``TEXT_ENCODERS`` config (its text layers embed the
            prompts; ``text_only=True`` suffices).
        class_names: the C classes, in label order.
        template: the prompt, one ``{}`` for the class name.
        embed_dim: E, as the checkpoint's projections.
        temperature: the logits' temperature.
        data_preprocessor: ``MODELS`` config (it tokenises the prompts).
        init_cfg: MMEngine's initialisation config (e.g. ``Pretrained``
            from a stage-1 checkpoint).
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 class_names: Sequence[str],
                 template: str = 'a video of {}.',
                 embed_dim: int = 256,
                 temperature: float = 0.05,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone,
            text_encoder,
            data_preprocessor,
            init_cfg,
            embed_dim=embed_dim,
            fusion=False)
        if template.count('{}') != 1:
            raise ValueError(f'template needs one {{}}, got {template!r}')
        self.class_names = list(class_names)
        self.template = template
        self.temperature = temperature
        self.class_embeds = nn.Parameter(
            torch.zeros(len(self.class_names), embed_dim))

    def init_weights(self) -> None:
        """Initialise (or load) the encoders, then the classes from their
        prompts."""
        super().init_weights()
        with torch.no_grad():
            self.class_embeds.copy_(self.prompt_embeddings())

    def prompt_embeddings(self) -> Tensor:
        """``(C, E)``: the normalised text embeddings of the prompts."""
        prompts = [self.template.format(name) for name in self.class_names]
        tokens = self.data_preprocessor.tokenize(prompts)
        return self.encode_text(tokens['text_ids'], tokens['text_mask'])[1]

    def logits(self, video: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` clips -> ``(B, C)`` class logits."""
        _, embed = self.encode_video(video)
        classes = F.normalize(self.class_embeds, dim=-1)
        return embed @ classes.t() / self.temperature

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: List[VideoTextDataSample]) -> Dict[str, Tensor]:
        """``loss_cls`` (cross-entropy) and ``cls_acc``."""
        logits = self.logits(inputs['video']).float()
        labels = torch.tensor([int(s.label) for s in data_samples],
                              device=logits.device)
        correct = (logits.argmax(-1) == labels).float().mean()
        return dict(loss_cls=F.cross_entropy(logits, labels), cls_acc=correct)

    def predict(
            self, inputs: Dict[str,
                               Tensor], data_samples: List[VideoTextDataSample]
    ) -> List[VideoTextDataSample]:
        """Put ``pred_score`` ``(C,)`` and ``pred_label`` on the samples."""
        scores = self.logits(inputs['video']).float().softmax(-1)
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax()
        return data_samples

    def forward(self,
                inputs: Dict[str, Tensor],
                data_samples: Optional[List[VideoTextDataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'``, ``'predict'``, or ``'tensor'``: the logits."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.logits(inputs['video'])
        raise ValueError(
            f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
