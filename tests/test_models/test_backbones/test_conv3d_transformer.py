"""The example plugin's Conv3dTransformer, built through alpro's
registry."""
import alpro_example_plugin  # noqa: F401  (registers the backbone)
import pytest
import torch

from alpro.registry import BACKBONES


def test_built_by_config_from_the_plugin():
    model = BACKBONES.build(dict(type='Conv3dTransformer'))
    assert type(model).__module__ == (
        'alpro_example_plugin.conv3d_transformer')
    assert (model.embed_dims, model.patch_size, model.num_frames) == (64, 16,
                                                                      4)
    assert len(model.blocks) == 2
    model.init_weights()
    out = model.eval()(torch.randn(1, 3, 4, 32, 32))
    assert out.shape == (1, 1 + 4, 64)


@pytest.mark.parametrize(
    'shape',
    [
        (2, 3, 4, 32, 32),
        (1, 3, 3, 32, 32),  # odd T: last frame repeated
        (1, 3, 1, 32, 48),  # T = 1, another size: pos_embed resampled
        (1, 3, 8, 16, 16),
    ])
def test_shapes_and_backward(shape):
    model = BACKBONES.build(
        dict(
            type='Conv3dTransformer',
            img_size=32,
            patch_size=8,
            num_frames=4,
            # stochastic depth would drop a whole branch of a 1-clip batch
            # now and then, and its parameters would get no gradient
            drop_path_rate=0.0)).train()
    B, _, _, H, W = shape
    out = model(torch.randn(shape))
    assert out.shape == (B, 1 + (H // 8) * (W // 8), 64)
    (out * torch.randn_like(out)).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_patch_tokens_are_time_averages():
    model = BACKBONES.build(
        dict(type='Conv3dTransformer', img_size=16, patch_size=8)).eval()
    with torch.no_grad():
        tokens = []
        model.norm.register_forward_hook(
            lambda module, args, output: tokens.append(output))
        out = model(torch.randn(1, 3, 4, 16, 16))
    t, n = 2, 4  # 4 frames / tubelet 2, 2x2 patches
    full = tokens[0]
    assert full.shape == (1, 1 + t * n, 64)
    torch.testing.assert_close(out[:, 0], full[:, 0])
    torch.testing.assert_close(out[:, 1:], full[:, 1:].reshape(1, t, n,
                                                               64).mean(1))


def test_checkpoint_round_trip(tmp_path):
    source = BACKBONES.build(dict(type='Conv3dTransformer', img_size=32))
    path = tmp_path / 'conv3d.pth'
    torch.save(source.state_dict(), path)
    model = BACKBONES.build(
        dict(type='Conv3dTransformer', img_size=32, pretrained=str(path)))
    model.init_weights()
    model.init_weights()
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        BACKBONES.build(
            dict(
                type='Conv3dTransformer',
                pretrained=str(tmp_path / 'missing.pth'))).init_weights()
