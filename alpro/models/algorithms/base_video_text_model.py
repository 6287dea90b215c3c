"""The base of every alpro video-text model: its data preprocessor,
video encoder and text encoder, checked against each other."""
from typing import Optional, Sequence, Union

from mmengine.model import BaseModel
from torch import nn

from alpro.models.backbones.contract import check_video_backbone
from alpro.registry import BACKBONES, MODELS, TEXT_ENCODERS

__all__ = ['BaseVideoTextModel', 'check_vocabulary']


def check_vocabulary(data_preprocessor: nn.Module,
                     text_encoder: nn.Module) -> None:
    """Refuse a tokenizer with more ids than the text encoder embeds."""
    tokenizer = getattr(data_preprocessor, 'tokenizer', None)
    vocab_size = text_encoder.bert.config.vocab_size
    if tokenizer is not None and len(tokenizer) > vocab_size:
        raise ValueError(
            f'the tokenizer has {len(tokenizer)} tokens but the text encoder '
            f'embeds only {vocab_size}: raise vocab_size in the text encoder '
            'config or use the tokenizer it was trained with')


class BaseVideoTextModel(BaseModel):
    """Base of the algorithms: ``data_preprocessor`` (a ``MODELS`` config,
    built from alpro's registry whatever the default scope), ``backbone``
    (``BACKBONES``, output ``(B, 1 + N, Dv)``, checked against the video
    backbone contract of :mod:`alpro.models.backbones.contract`) and
    ``text_encoder`` (``TEXT_ENCODERS``), the tokenizer checked against the
    text encoder's vocabulary.

    Args:
        backbone: a ``BACKBONES`` config.
        text_encoder: a ``TEXT_ENCODERS`` config.
        data_preprocessor: a ``MODELS`` config or module.
        init_cfg: MMEngine's initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = BACKBONES.build(backbone)
        check_video_backbone(self.backbone, where=type(self).__name__)
        self.text_encoder = TEXT_ENCODERS.build(text_encoder)
        check_vocabulary(self.data_preprocessor, self.text_encoder)

    def video_to_text_projection(self) -> nn.Module:
        """What takes video tokens to the text width, for the fusion
        layers: identity when the widths agree, else a linear layer."""
        video_width = self.backbone.embed_dims
        width = self.text_encoder.hidden_size
        return nn.Identity() if video_width == width else nn.Linear(
            video_width, width)

    def build_order_negatives(
        self, cfg: Optional[dict], tasks: Sequence[str] = ('vtc', 'vtm')
    ) -> Optional[nn.Module]:
        """The order-aware objective's negatives
        (:class:`~alpro.models.samplers.OrderNegatives` unless ``cfg`` names
        another ``type``), given the data preprocessor's tokenizer;
        ``None`` when ``cfg`` is ``None``. Refused when none of the places
        it is used (``vtc`` / ``vtm``) is among ``tasks``."""
        if cfg is None:
            return None
        negatives = MODELS.build(
            dict(
                dict(type='OrderNegatives'),
                **cfg,
                tokenizer=getattr(self.data_preprocessor, 'tokenizer', None)))
        if not (negatives.vtc and 'vtc' in tasks) and not (negatives.vtm
                                                           and 'vtm' in tasks):
            raise ValueError('order_negatives: neither vtc nor vtm is on')
        return negatives
