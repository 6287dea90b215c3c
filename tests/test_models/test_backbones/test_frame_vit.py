"""FrameViT: a timm image model per frame, tokens averaged over time."""
from pathlib import Path

import pytest
import safetensors.torch
import timm
import torch
from mmengine.model import BaseModule

from alpro.models.backbones import FrameViT

# vit_tiny_patch16_224 shrunk further; pretrained=False, nothing downloads.
TINY = dict(
    model_name='vit_tiny_patch16_224',
    img_size=32,
    patch_size=8,
    embed_dim=64,
    depth=2,
    num_heads=2)


def timm_model(seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    kwargs = {**TINY, **kwargs}
    return timm.create_model(
        kwargs.pop('model_name'), pretrained=False, num_classes=0,
        **kwargs).eval()


def by_hand(model: torch.nn.Module,
            video: torch.Tensor,
            has_cls: bool = True) -> torch.Tensor:
    """The contract computed frame by frame with the timm model."""
    frames = [
        model.forward_features(video[:, :, t]) for t in range(video.shape[2])
    ]
    tokens = torch.stack(frames, dim=1).mean(1)
    patches = tokens[:, model.num_prefix_tokens:]
    cls = tokens[:, :1] if has_cls else patches.mean(1, keepdim=True)
    return torch.cat([cls, patches], dim=1)


def copy_weights(backbone: FrameViT, model: torch.nn.Module) -> FrameViT:
    backbone.model.load_state_dict(model.state_dict())
    return backbone.eval()


@pytest.mark.parametrize('shape', [(2, 3, 4, 32, 32), (1, 3, 3, 32, 32),
                                   (2, 3, 1, 32, 32)])
def test_output_contract_and_time_average(shape):
    backbone = FrameViT(**TINY, num_frames=4)
    assert (backbone.embed_dims, backbone.patch_size,
            backbone.num_frames) == (64, 8, 4)
    reference = timm_model(seed=1)
    copy_weights(backbone, reference)
    video = torch.randn(shape)
    with torch.no_grad():
        out = backbone(video)
        expected = by_hand(reference, video)
    assert out.shape == (shape[0], 1 + 16, 64)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_register_tokens_are_dropped():
    backbone = FrameViT(**TINY, reg_tokens=4)
    assert backbone.num_prefix_tokens == 5 and backbone.has_cls_token
    reference = timm_model(seed=2, reg_tokens=4)
    copy_weights(backbone, reference)
    video = torch.randn(2, 3, 2, 32, 32)
    with torch.no_grad():
        out = backbone(video)
        assert reference.forward_features(video[:, :, 0]).shape[1] == 21
        torch.testing.assert_close(out, by_hand(reference, video))
    assert out.shape == (2, 17, 64)


def test_model_without_cls_token_uses_mean_of_patches():
    kwargs = dict(class_token=False, global_pool='avg')
    backbone = FrameViT(**TINY, **kwargs)
    assert backbone.num_prefix_tokens == 0 and not backbone.has_cls_token
    reference = timm_model(seed=3, **kwargs)
    copy_weights(backbone, reference)
    video = torch.randn(1, 3, 2, 32, 32)
    with torch.no_grad():
        out = backbone(video)
        torch.testing.assert_close(out,
                                   by_hand(reference, video, has_cls=False))
    torch.testing.assert_close(out[:, 0], out[:, 1:].mean(1))


def test_model_without_patch_tokens_is_refused():
    with pytest.raises(ValueError, match='needs a timm model with patch'):
        FrameViT(model_name='resnet10t', img_size=None)


def test_gradients_and_with_cp():
    video = torch.randn(2, 3, 2, 32, 32)
    weights = torch.randn(2, 17, 64)
    backbone = FrameViT(**TINY, drop_path_rate=0.1).train()

    def run(with_cp: bool):
        backbone.zero_grad()
        backbone.set_grad_checkpointing(with_cp)
        torch.manual_seed(0)
        out = backbone(video)
        (out * weights).sum().backward()
        return out.detach(), {
            n: p.grad.clone()
            for n, p in backbone.named_parameters()
        }

    out, grads = run(False)
    out_cp, grads_cp = run(True)
    assert backbone.model.grad_checkpointing
    torch.testing.assert_close(out_cp, out)
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(grads_cp[name], grad, msg=name)
    assert FrameViT(**TINY, with_cp=True).model.grad_checkpointing


@pytest.mark.parametrize('suffix', ['.safetensors', '.pth'])
def test_local_checkpoint_loads_in_init_weights(tmp_path: Path, suffix):
    reference = timm_model(seed=4)
    path = tmp_path / f'vit{suffix}'
    if suffix == '.safetensors':
        safetensors.torch.save_file(reference.state_dict(), str(path))
    else:
        torch.save({'state_dict': reference.state_dict()}, path)
    backbone = FrameViT(**TINY, pretrained=str(path))
    # Nothing is loaded at construction.
    assert not torch.equal(backbone.model.pos_embed, reference.pos_embed)

    class Algorithm(BaseModule):  # as the Runner sees it

        def __init__(self):
            super().__init__()
            self.backbone = backbone

    Algorithm().init_weights()
    for _ in range(2):
        backbone.init_weights()
        for name, value in reference.state_dict().items():
            assert torch.equal(backbone.model.state_dict()[name], value), name


def test_checkpoint_at_another_size_is_resampled_by_timm(tmp_path):
    reference = timm_model(seed=5)  # 32 px: a 4x4 grid
    path = tmp_path / 'vit32.safetensors'
    safetensors.torch.save_file(reference.state_dict(), str(path))
    backbone = FrameViT(**{**TINY, 'img_size': 48}, pretrained=str(path))
    backbone.init_weights()
    assert backbone.model.pos_embed.shape == (1, 1 + 36, 64)
    assert torch.equal(backbone.model.cls_token, reference.cls_token)
    assert backbone(torch.randn(1, 3, 2, 48, 48)).shape == (1, 37, 64)


def test_missing_pretrained_file_is_named(tmp_path):
    missing = tmp_path / 'no' / 'vit.safetensors'
    backbone = FrameViT(**TINY, pretrained=str(missing))
    with pytest.raises(FileNotFoundError) as error:
        backbone.init_weights()
    assert str(missing) in str(error.value)
    assert "timm.create_model('vit_tiny_patch16_224', " in str(error.value)
