"""The video backbone contract, checked when a model is built: a backbone
without an attribute the algorithms read fails then, naming its type, the
attribute and where the contract is written."""
import numpy as np
import pytest
import torch
from mmengine.model import BaseModule

from alpro.models.backbones import (VIDEO_BACKBONE_ATTRIBUTES, TimeSformer,
                                    check_video_backbone)
from alpro.registry import MODELS
from tests.tiny_components import (TINY_TIMESFORMER, tiny_preprocessor,
                                   tiny_text_encoder)


class PlainVideoEncoder(BaseModule):
    """A plugin-style backbone that follows the contract's shapes; each
    test deletes or spoils one attribute."""

    def __init__(self, drop=(), **values) -> None:
        super().__init__()
        self.proj = torch.nn.Conv3d(3, 32, (1, 8, 8), stride=(1, 8, 8))
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, 32))
        attrs = {**dict(embed_dims=32, patch_size=8, num_frames=2), **values}
        for name, value in attrs.items():
            if name not in drop:
                setattr(self, name, value)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(video).mean(2).flatten(2).transpose(1, 2)
        return torch.cat([self.cls.expand(len(video), -1, -1), tokens], 1)


def build_prompter(tokenizer_dir, backbone: dict):
    return MODELS.build(
        dict(
            type='PrompterPretrainer',
            data_preprocessor=tiny_preprocessor(tokenizer_dir),
            backbone=backbone,
            text_encoder=tiny_text_encoder(num_layers=2, text_only=True),
            embed_dim=16))


def test_a_backbone_that_follows_the_contract_builds(tokenizer_dir):
    model = build_prompter(tokenizer_dir, dict(type=PlainVideoEncoder))
    assert model.vision_proj.in_features == 32
    out = model.backbone(torch.randn(2, 3, 2, 32, 32))
    assert out.shape == (2, 1 + 16, 32)
    assert build_prompter(tokenizer_dir, TINY_TIMESFORMER).backbone.\
        embed_dims == 64


def test_a_backbone_without_embed_dims_fails_at_build(tokenizer_dir):
    # before the contract: an AttributeError inside PrompterPretrainer
    with pytest.raises(TypeError) as error:
        build_prompter(tokenizer_dir,
                       dict(type=PlainVideoEncoder, drop=('embed_dims', )))
    message = str(error.value)
    assert 'PrompterPretrainer: backbone PlainVideoEncoder' in message
    assert "no attribute 'embed_dims'" in message
    assert 'alpro/models/backbones/contract.py' in message
    assert 'patch_size' not in message.split('. Set them')[0]


def test_every_missing_or_bad_attribute_is_named_at_once():
    backbone = PlainVideoEncoder(
        drop=('embed_dims', 'num_frames'), patch_size=(8, 8))
    with pytest.raises(TypeError) as error:
        check_video_backbone(backbone, 'AlproPretrainer')
    message = str(error.value)
    assert message.startswith('AlproPretrainer: backbone PlainVideoEncoder')
    for part in ("no attribute 'embed_dims'", "no attribute 'num_frames'",
                 'patch_size=(8, 8) is not a positive int'):
        assert part in message


@pytest.mark.parametrize('value', [0, 16.0, True, None, '16'])
def test_attributes_are_positive_ints(value):
    with pytest.raises(TypeError, match='embed_dims=.* is not a positive'):
        check_video_backbone(PlainVideoEncoder(embed_dims=value), 'here')


def test_numpy_ints_are_ints_and_modules_are_required():
    check_video_backbone(PlainVideoEncoder(embed_dims=np.int64(32)), 'here')
    with pytest.raises(TypeError, match='must be an nn.Module, got dict'):
        check_video_backbone(dict(embed_dims=32), 'here')


def test_the_contract_names_what_the_shipped_backbones_have():
    assert set(VIDEO_BACKBONE_ATTRIBUTES) == {
        'embed_dims', 'patch_size', 'num_frames'
    }
    check_video_backbone(
        TimeSformer(arch='tiny', img_size=32, patch_size=8), 'here')
