"""TimeSformer: shapes, zero init, ViT loading, and weights that survive
``init_weights()``."""
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

from alpro.models.backbones import TimeSformer
from alpro.models.backbones import timesformer as timesformer_module
from alpro.models.backbones import vit_to_timesformer
from alpro.utils import CheckpointShapeError

TINY = dict(arch='tiny', img_size=32, patch_size=8)


def tiny_vit(img_size: int = 32, seed: int = 0) -> VisionTransformer:
    """A timm ViT with the dimensions of ``arch='tiny'``, eval mode."""
    torch.manual_seed(seed)
    return VisionTransformer(
        img_size=img_size,
        patch_size=8,
        embed_dim=64,
        depth=2,
        num_heads=2,
        mlp_ratio=2.,
        num_classes=0).eval()


def save(state_dict: dict, path: Path) -> str:
    if path.suffix == '.safetensors':
        safetensors.torch.save_file(
            {
                k: v.contiguous()
                for k, v in state_dict.items()
            }, str(path))
    else:
        torch.save(state_dict, path)
    return str(path)


def loaded(path: str, **kwargs) -> TimeSformer:
    model = TimeSformer(**{**TINY, **kwargs}, pretrained=path)
    model.init_weights()
    return model.eval()


@contextmanager
def captured_log() -> Iterator[List[str]]:
    """Messages sent to MMEngine's current logger."""
    logger = MMLogger.get_current_instance()
    messages: List[str] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def weighted_sum(out: torch.Tensor) -> torch.Tensor:
    # A plain sum of LayerNorm outputs has no gradient: weight it.
    weights = torch.randn(
        out.shape, generator=torch.Generator().manual_seed(1))
    return (out * weights).sum()


@pytest.mark.parametrize(
    'build, shape',
    [
        (dict(num_frames=4), (2, 3, 4, 32, 32)),
        (dict(num_frames=3), (1, 3, 3, 32, 32)),  # odd T
        (dict(num_frames=1), (2, 3, 1, 32, 32)),  # T = 1
        (dict(num_frames=4, img_size=(32, 48)), (1, 3, 4, 32, 48)),
        (dict(num_frames=2, patch_size=16, img_size=64), (1, 3, 2, 64, 64)),
        # Other T, H, W than built for: embeddings resampled on the fly.
        (dict(num_frames=4), (1, 3, 5, 48, 24)),
        (dict(num_frames=4), (1, 3, 1, 16, 16)),
    ])
def test_output_contract(build, shape):
    model = TimeSformer(**{**TINY, **build}).eval()
    B, _, T, H, W = shape
    p = model.patch_size
    out = model(torch.randn(shape))
    assert out.shape == (B, 1 + (H // p) * (W // p), 64)
    assert model.embed_dims == 64 and isinstance(model.patch_size, int)
    assert model.num_frames == build['num_frames']
    assert torch.isfinite(out).all()


def test_frame_tokens_follow_the_pooled_ones():
    """frame_tokens=True: [CLS] and the time-pooled patches as without it
    (same weights), then each time step's patch tokens in time order:
    with the temporal branch and time embedding at their zero start,
    reversing the clip reverses them; with a time embedding, it does
    not."""
    torch.manual_seed(0)
    plain = TimeSformer(**TINY, num_frames=2).eval()
    frames = TimeSformer(**TINY, num_frames=2, frame_tokens=True).eval()
    frames.load_state_dict(plain.state_dict())
    video = torch.randn(2, 3, 2, 32, 32)
    with torch.no_grad():
        base, out = plain(video), frames(video)
        backward = frames(video.flip(2))
    n = base.size(1) - 1
    assert out.shape == (2, 1 + n + 2 * n, 64)
    torch.testing.assert_close(out[:, :1 + n], base)
    steps = out[:, 1 + n:].view(2, 2, n, 64)
    torch.testing.assert_close(steps.mean(1), base[:, 1:])
    assert not torch.allclose(steps[:, 0], steps[:, 1])
    torch.testing.assert_close(backward[:, 1 + n:].view(2, 2, n, 64),
                               steps.flip(1))
    with torch.no_grad():
        frames.time_embed.normal_(std=0.5)
        steps = frames(video)[:, 1 + n:].view(2, 2, n, 64)
        backward = frames(video.flip(2))[:, 1 + n:].view(2, 2, n, 64)
    assert not torch.allclose(backward, steps.flip(1), atol=1e-3)


def test_bad_input_is_refused():
    model = TimeSformer(**TINY)
    with pytest.raises(ValueError, match='multiple of the patch size 8'):
        model(torch.randn(1, 3, 2, 30, 32))
    with pytest.raises(ValueError, match=r'\(B, C, T, H, W\)'):
        model(torch.randn(1, 3, 32, 32))


def test_arch_zoo_and_dict():
    model = TimeSformer(
        arch=dict(embed_dims=32, depth=1, num_heads=4), img_size=16)
    assert model.embed_dims == 32 and len(model.blocks) == 1
    assert model.blocks[0].mlp.fc1.out_features == 128  # mlp_ratio 4
    tiny = TimeSformer(**TINY)
    assert tiny.blocks[0].mlp.fc1.out_features == 128  # 64 * 2
    with pytest.raises(ValueError, match="'huge' is not one of"):
        TimeSformer(arch='huge')
    with pytest.raises(ValueError, match='missing'):
        TimeSformer(arch=dict(embed_dims=32, depth=1))
    with_ratio = TimeSformer(
        arch=dict(embed_dims=32, depth=1, num_heads=4, mlp_ratio=2.),
        img_size=16)
    assert with_ratio.blocks[0].mlp.fc1.out_features == 64


@pytest.mark.parametrize('preset', sorted(TimeSformer.arch_zoo))
def test_every_preset_key_can_be_given_in_a_custom_arch(preset):
    # the preset's own settings as a custom dict, mlp_ratio included
    arch = dict(TimeSformer.arch_zoo[preset])
    assert 'mlp_ratio' in arch
    custom = TimeSformer(arch=arch, img_size=16, patch_size=16)
    assert custom.arch_settings == TimeSformer.arch_zoo[preset]
    block = custom.blocks[0]
    assert block.mlp.fc1.out_features == int(arch['embed_dims'] *
                                             arch['mlp_ratio'])
    assert len(custom.blocks) == arch['depth']
    assert block.attn.num_heads == arch['num_heads']


@pytest.mark.parametrize(
    'arch, named',
    [
        (dict(embed_dims=32, depth=1), ["missing ['num_heads']"]),
        (dict(embed_dims=32, depth=1, num_heads=4,
              mlp_ratios=2.), ["unknown ['mlp_ratios']"]),
        (dict(depth=1, num_heads=4,
              hidden=8), ["missing ['embed_dims']", "unknown ['hidden']"]),
        # a constructor argument put in the arch dict by mistake
        (dict(embed_dims=32, depth=1, num_heads=4, qkv_bias=False),
         ["unknown ['qkv_bias']", 'arguments of TimeSformer itself']),
    ])
def test_a_bad_custom_arch_names_the_keys(arch, named):
    with pytest.raises(ValueError) as error:
        TimeSformer(arch=arch, img_size=16)
    message = str(error.value)
    for part in named + [
            "needs ['depth', 'embed_dims', 'num_heads']", "'mlp_ratio': 4.0"
    ]:
        assert part in message, (part, message)
    with pytest.raises(TypeError, match='a preset name or a dict, got int'):
        TimeSformer(arch=3)


def test_attention_is_fused(monkeypatch):
    model = TimeSformer(**TINY, num_frames=2).eval()
    attentions = [m for n, m in model.named_modules() if n.endswith('attn')]
    assert len(attentions) == 4
    assert all(attn.fused_attn for attn in attentions)
    calls = []
    sdpa = F.scaled_dot_product_attention

    def counting_sdpa(*args, **kwargs):
        calls.append(args[0].shape)
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', counting_sdpa)
    model(torch.randn(1, 3, 2, 32, 32))
    # Per block: temporal over (B*N, heads, T, hd), spatial over
    # (B*T, heads, 1+N, hd).
    assert calls == [(16, 2, 2, 32), (2, 2, 17, 32)] * 2


def test_zero_init_of_temporal_branch():
    model = TimeSformer(**TINY, num_frames=4)
    for _ in range(2):
        for block in model.blocks:
            assert not block.temporal_fc.weight.any()
            assert not block.temporal_fc.bias.any()
            assert block.attn.qkv.weight.std() > 0.01
        assert not model.time_embed.any()
        model.init_weights()


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = TimeSformer(**TINY, num_frames=3).train()
    video = torch.randn(2, 3, 3, 32, 32)
    weighted_sum(model(video)).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
    for block in model.blocks:
        # temporal_fc learns from zero; the temporal attention behind it has
        # no gradient until temporal_fc is nonzero.
        assert block.temporal_fc.weight.grad.abs().sum() > 0
        assert block.temporal_fc.bias.grad.abs().sum() > 0
        assert not block.temporal_attn.qkv.weight.grad.any()

    # After one step every parameter, temporal attention included, learns.
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    model.zero_grad()
    weighted_sum(model(video)).backward()
    for name, param in model.named_parameters():
        assert param.grad.abs().sum() > 0, name


def test_with_cp_gives_same_output_and_gradients(monkeypatch):
    video = torch.randn(2, 3, 3, 32, 32)
    model = TimeSformer(**TINY, num_frames=3, drop_path_rate=0.2).train()
    with torch.no_grad():  # a nonzero temporal branch, to test it too
        for block in model.blocks:
            block.temporal_fc.weight.normal_(std=0.02)

    def run(with_cp: bool):
        model.zero_grad()
        model.set_grad_checkpointing(with_cp)
        torch.manual_seed(123)  # the same drop-path masks
        out = model(video)
        weighted_sum(out).backward()
        return out.detach(), {
            n: p.grad.clone()
            for n, p in model.named_parameters()
        }

    calls = []
    checkpoint = timesformer_module.checkpoint

    def counting_checkpoint(*args, **kwargs):
        calls.append(kwargs)
        return checkpoint(*args, **kwargs)

    monkeypatch.setattr(timesformer_module, 'checkpoint', counting_checkpoint)
    out_plain, grads_plain = run(False)
    assert not calls
    out_cp, grads_cp = run(True)
    assert calls == [dict(use_reentrant=False)] * 2
    torch.testing.assert_close(out_cp, out_plain)
    for name, grad in grads_plain.items():
        torch.testing.assert_close(grads_cp[name], grad, msg=name)
    # with_cp in the constructor does the same; eval does not checkpoint.
    assert TimeSformer(**TINY, with_cp=True).grad_checkpointing
    calls.clear()
    with torch.no_grad():
        model.eval()(video)
    assert not calls


@pytest.mark.parametrize('suffix', ['.safetensors', '.pth'])
@pytest.mark.parametrize('num_frames', [1, 3])
def test_loaded_model_equals_the_image_vit(tmp_path, suffix, num_frames):
    vit = tiny_vit()
    path = save(vit.state_dict(), tmp_path / f'vit{suffix}')
    model = loaded(path, num_frames=num_frames)
    frame = torch.randn(2, 3, 32, 32)
    # Identical frames: with temporal_fc zero each frame is the image.
    clip = frame.unsqueeze(2).expand(-1, -1, num_frames, -1, -1)
    with torch.no_grad():
        expected = vit.forward_features(frame)
        out = model(clip)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def vit_to_npz(vit: VisionTransformer, path: Path) -> str:
    """Write ``vit`` in the layout of Google's original JAX ``.npz``."""
    sd = {k: v.detach() for k, v in vit.state_dict().items()}
    D, heads = vit.embed_dim, vit.blocks[0].attn.num_heads
    hd = D // heads
    arrays = {
        'embedding/kernel': sd['patch_embed.proj.weight'].permute(2, 3, 1, 0),
        'embedding/bias': sd['patch_embed.proj.bias'],
        'cls': sd['cls_token'],
        'Transformer/posembed_input/pos_embedding': sd['pos_embed'],
        'Transformer/encoder_norm/scale': sd['norm.weight'],
        'Transformer/encoder_norm/bias': sd['norm.bias'],
    }
    for i in range(len(vit.blocks)):
        src, dst = f'blocks.{i}.', f'Transformer/encoderblock_{i}/'
        mha = dst + 'MultiHeadDotProductAttention_1/'
        qkv_w = sd[src + 'attn.qkv.weight'].chunk(3)
        qkv_b = sd[src + 'attn.qkv.bias'].chunk(3)
        for name, w, b in zip(('query', 'key', 'value'), qkv_w, qkv_b):
            arrays[mha + name + '/kernel'] = w.T.reshape(D, heads, hd)
            arrays[mha + name + '/bias'] = b.reshape(heads, hd)
        arrays[mha + 'out/kernel'] = sd[src + 'attn.proj.weight'].reshape(
            D, heads, hd).permute(1, 2, 0)
        arrays[mha + 'out/bias'] = sd[src + 'attn.proj.bias']
        for norm, ln in (('norm1', 'LayerNorm_0'), ('norm2', 'LayerNorm_2')):
            arrays[dst + ln + '/scale'] = sd[src + norm + '.weight']
            arrays[dst + ln + '/bias'] = sd[src + norm + '.bias']
        for r in range(2):
            fc = f'{src}mlp.fc{r + 1}.'
            arrays[f'{dst}MlpBlock_3/Dense_{r}/kernel'] = sd[fc + 'weight'].T
            arrays[f'{dst}MlpBlock_3/Dense_{r}/bias'] = sd[fc + 'bias']
    np.savez(path, **{k: v.contiguous().numpy() for k, v in arrays.items()})
    return str(path)


def test_google_npz_loads_through_timm(tmp_path):
    vit = tiny_vit(seed=3)
    model = loaded(vit_to_npz(vit, tmp_path / 'vit.npz'), num_frames=2)
    frame = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        out = model(frame.unsqueeze(2).expand(-1, -1, 2, -1, -1))
        torch.testing.assert_close(
            out, vit.forward_features(frame), atol=1e-5, rtol=1e-5)


def test_key_map():
    vit = tiny_vit()
    model = TimeSformer(**TINY, num_frames=2)
    state_dict = dict(vit.state_dict())
    state_dict['head.weight'] = torch.zeros(10, 64)
    state_dict['fc_norm.weight'] = torch.zeros(64)
    out = vit_to_timesformer(state_dict, model)
    assert set(out) == set(model.state_dict())
    for i in range(2):
        p = f'blocks.{i}.'
        for name in ('qkv.weight', 'qkv.bias', 'proj.weight', 'proj.bias'):
            assert torch.equal(out[p + 'temporal_attn.' + name],
                               out[p + 'attn.' + name])
            # a copy, not a shared tensor
            assert (out[p + 'temporal_attn.' + name].data_ptr()
                    != out[p + 'attn.' + name].data_ptr())
        assert torch.equal(out[p + 'temporal_norm.weight'],
                           out[p + 'norm1.weight'])
        assert not out[p + 'temporal_fc.weight'].any()
    assert not out['time_embed'].any()


def test_pos_embed_is_resampled_and_keys_reported(tmp_path):
    vit = tiny_vit(img_size=32)
    state_dict = dict(vit.state_dict())
    del state_dict['norm.bias']
    state_dict['extra.weight'] = torch.ones(3)
    path = save(state_dict, tmp_path / 'vit32.safetensors')
    with captured_log() as messages:
        model = loaded(path, img_size=48)
    expected = resample_abs_pos_embed(
        vit.pos_embed.detach(), new_size=[6, 6], num_prefix_tokens=1)
    assert model.pos_embed.shape == (1, 37, 64)
    torch.testing.assert_close(model.pos_embed.detach(), expected)
    report = '\n'.join(messages)
    assert 'pos_embed resampled from a 4x4 to a 6x6 patch grid' in report
    assert "missing keys (left randomly initialised): ['norm.bias']" in report
    assert "unexpected keys (ignored): ['extra.weight']" in report


def test_time_embed_is_resampled(tmp_path):
    source = TimeSformer(**TINY, num_frames=4)
    with torch.no_grad():
        source.time_embed.normal_()
    path = save(source.state_dict(), tmp_path / 'timesformer_t4.pth')
    model = loaded(path, num_frames=8)
    expected = F.interpolate(
        source.time_embed.detach().transpose(1, 2),
        size=8,
        mode='linear',
        align_corners=False).transpose(1, 2)
    torch.testing.assert_close(model.time_embed.detach(), expected)


def test_time_embed_nearest_as_the_release(tmp_path):
    """ALPRO's resize: frame t of T' takes entry floor(t * T / T'), at
    load time and at run time."""
    source = TimeSformer(**TINY, num_frames=4)
    with torch.no_grad():
        source.time_embed.normal_()
    table = source.time_embed.detach()
    model = TimeSformer(**TINY, num_frames=8, time_embed_resize='nearest')
    with captured_log() as messages:
        model.load_state_dict(source.state_dict())
    assert torch.equal(model.time_embed.detach(),
                       table[:, [0, 0, 1, 1, 2, 2, 3, 3]])
    assert 'time_embed resized from 4 to 8 frames (nearest)' in messages
    # at run time, a 12-frame clip into the 4-frame model
    source.time_embed_resize = 'nearest'
    seen = []
    source.blocks[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        source.eval()(torch.zeros(1, 3, 12, 32, 32))
    patch = source.patch_embed(torch.zeros(1, 3, 32, 32))
    tokens = seen[0][:, 1:].reshape(1, 12, 16, 64)
    expected = patch + source.pos_embed[:, 1:] + table[:, [
        t * 4 // 12 for t in range(12)
    ]].transpose(0, 1)
    torch.testing.assert_close(tokens[0], expected)
    with pytest.raises(ValueError, match='time_embed_resize'):
        TimeSformer(**TINY, time_embed_resize='cubic')


def test_pretrained_of_another_width_is_an_error(tmp_path):
    wide = TimeSformer(
        arch=dict(embed_dims=32, depth=2, num_heads=2, mlp_ratio=2.),
        img_size=32,
        patch_size=8)
    path = save(wide.state_dict(), tmp_path / 'wide32.pth')
    with pytest.raises(CheckpointShapeError) as error:
        loaded(path)
    assert ('cls_token', (1, 1, 32), (1, 1, 64)) in error.value.mismatched
    assert 'wide32.pth' in str(error.value)


def test_own_checkpoint_round_trips_under_a_prefix(tmp_path):
    source = TimeSformer(**TINY, num_frames=2)
    with torch.no_grad():  # trained temporal weights must not be replaced
        for param in source.parameters():
            param.add_(torch.randn_like(param))
    wrapped = {
        'meta': {},
        'state_dict': {
            f'backbone.{k}': v
            for k, v in source.state_dict().items()
        }
    }
    model = loaded(save(wrapped, tmp_path / 'algo.pth'), num_frames=2)
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_weights_survive_init_weights(tmp_path):
    vit = tiny_vit(seed=7)
    path = save(vit.state_dict(), tmp_path / 'vit.safetensors')
    model = TimeSformer(**TINY, num_frames=2, pretrained=path)
    # Nothing is loaded at construction.
    assert not torch.equal(model.pos_embed, vit.pos_embed)

    class Algorithm(BaseModule):  # as the Runner sees it

        def __init__(self):
            super().__init__()
            self.backbone = model

    algorithm = Algorithm()
    algorithm.init_weights()
    expected = vit_to_timesformer(vit.state_dict(), model)
    for _ in range(2):
        model.init_weights()
        for name, value in model.state_dict().items():
            assert torch.equal(value, expected[name]), name


def test_missing_pretrained_file_is_named(tmp_path):
    missing = tmp_path / 'nowhere' / 'vit_base_patch16_224.safetensors'
    model = TimeSformer(**TINY, pretrained=str(missing))
    with pytest.raises(FileNotFoundError) as error:
        model.init_weights()
    assert str(missing) in str(error.value)
    assert 'timm.create_model' in str(error.value)
    assert 'vit_base_patch16_224.augreg_in21k_ft_in1k' in str(error.value)
    npz = TimeSformer(**TINY, pretrained=str(missing.with_suffix('.npz')))
    with pytest.raises(FileNotFoundError, match='nowhere'):
        npz.init_weights()


def test_tubelets_are_patches_of_consecutive_frames():
    model = TimeSformer(**TINY, num_frames=4, tubelet_size=2).eval()
    assert model.time_embed.shape == (1, 2, 64)
    assert model.patch_embed.proj.weight.shape == (64, 6, 8, 8)
    video = torch.randn(2, 3, 4, 32, 32)
    # the embedding of tubelet 1 is the 3-D convolution of frames 2 and 3
    tokens = {}
    model.patch_embed.register_forward_hook(
        lambda module, args, out: tokens.setdefault('x', out))
    with torch.no_grad():
        out = model(video)
        kernel = model.patch_embed.proj.weight.reshape(64, 3, 2, 8, 8)
        expected = F.conv3d(
            video, kernel, model.patch_embed.proj.bias, stride=(2, 8, 8))
    assert out.shape == (2, 1 + 16, 64)
    torch.testing.assert_close(tokens['x'].reshape(2, 2, 16, 64)[:, 1],
                               expected[:, :, 1].flatten(2).transpose(1, 2))
    with pytest.raises(ValueError, match='3 frames do not split'):
        model(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match='positive divisor of num_frames'):
        TimeSformer(**TINY, num_frames=4, tubelet_size=3)


def test_tubelets_see_the_order_of_two_frames():
    """Per-frame patches of two frames are order-blind before training
    (temporal branch zero); a tubelet sees which frame comes first."""
    torch.manual_seed(0)
    video = torch.randn(1, 3, 2, 32, 32)
    for k, blind in ((1, True), (2, False)):
        model = TimeSformer(**TINY, num_frames=2, tubelet_size=k).eval()
        model.init_weights()
        with torch.no_grad():
            same = torch.allclose(
                model(video), model(video.flip(2)), atol=1e-6)
        assert same is blind, k


def test_image_weights_inflate_to_tubelets(tmp_path):
    vit = tiny_vit()
    path = save(vit.state_dict(), tmp_path / 'vit.safetensors')
    with captured_log() as messages:
        model = loaded(path, num_frames=4, tubelet_size=2)
    assert any('inflated from 3 channels to 2-frame tubelets' in m
               for m in messages)
    frame = torch.randn(2, 3, 32, 32)
    clip = frame.unsqueeze(2).expand(-1, -1, 4, -1, -1)
    with torch.no_grad():
        expected = vit.forward_features(frame)
        out = model(clip)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # its own checkpoint loads as it is, time_embed to other clip lengths
    model8 = TimeSformer(**TINY, num_frames=8, tubelet_size=2)
    model8.load_state_dict(model.state_dict())
    assert model8.time_embed.shape == (1, 4, 64)
    torch.testing.assert_close(model8.patch_embed.proj.weight,
                               model.patch_embed.proj.weight)
