"""Every registered backbone, built tiny, follows the video backbone
contract (``alpro/models/backbones/contract.py``): ``(B, C, T, H, W)`` in,
``(B, 1 + N, D)`` out, ``embed_dims``, ``patch_size``, ``num_frames``,
``init_weights()``."""
import inspect

import alpro_example_plugin  # noqa: F401  (and the example plugin's)
import pytest
import torch

from alpro.models.backbones import check_video_backbone
from alpro.registry import BACKBONES
from alpro.utils import init_random_weights

# One tiny configuration per registered type. A new backbone must add one.
TINY_KWARGS = {
    'TimeSformer':
    dict(arch='tiny', img_size=32, patch_size=8, num_frames=4),
    'FrameViT':
    dict(
        model_name='vit_tiny_patch16_224',
        img_size=32,
        patch_size=8,
        embed_dim=64,
        depth=2,
        num_heads=2,
        num_frames=4),
    'Conv3dTransformer':
    dict(img_size=32, patch_size=8, num_frames=4),
}


@pytest.mark.parametrize('name', sorted(BACKBONES.module_dict))
def test_video_backbone_contract(name):
    if name not in TINY_KWARGS:
        pytest.fail(f'backbone {name!r} is registered but has no tiny '
                    'kwargs in TINY_KWARGS of this test')
    model = BACKBONES.build(dict(type=name, **TINY_KWARGS[name]))
    model.init_weights()
    model.eval()
    check_video_backbone(model, 'test_video_backbone_contract')
    for attr in ('embed_dims', 'patch_size', 'num_frames'):
        assert isinstance(getattr(model, attr), int), attr
    p, D = model.patch_size, model.embed_dims
    assert model.num_frames == TINY_KWARGS[name]['num_frames']
    for T in (model.num_frames, 3, 1):
        with torch.no_grad():
            out = model(torch.randn(2, 3, T, 32, 32))
        assert out.shape == (2, 1 + (32 // p)**2, D), T
        assert torch.isfinite(out).all()


@pytest.mark.parametrize('name', sorted(BACKBONES.module_dict))
def test_video_backbone_builds_from_no_file(name, tmp_path):
    """A ``pretrained`` file is read in ``init_weights()``, never when the
    backbone is built, and skipped by ``init_random_weights``."""
    cls = BACKBONES.get(name)
    if 'pretrained' not in inspect.signature(cls).parameters:
        pytest.skip(f'{name} reads no weight file')
    missing = str(tmp_path / 'missing.safetensors')
    kwargs = dict(type=name, pretrained=missing, **TINY_KWARGS[name])
    init_random_weights(BACKBONES.build(kwargs))
    with pytest.raises(FileNotFoundError, match='missing.safetensors'):
        BACKBONES.build(kwargs).init_weights()
