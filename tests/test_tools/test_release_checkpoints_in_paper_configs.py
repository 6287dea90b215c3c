"""Released ALPRO checkpoints in the paper configs: tiny random state dicts
in the release's layout (tests/release_checkpoints.py), converted by
tools/model_converters/alpro_official_to_alpro.py ``--config`` and loaded
the way ``load_from`` loads, into each paper config shrunk to tiny sizes.

A dropped or zeroed ``time_embed``, a tensor skipped for its shape or a head
that is not the release's fails here."""
from pathlib import Path
from typing import Dict, Optional

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from alpro.registry import MODELS
from alpro.utils import CheckpointShapeError
from tests import release_checkpoints as rc
from tests.test_models.test_prompters.tiny_entity_prompter import (
    ENTITIES, write_entities)
from tests.tiny_components import tiny_text_encoder
from tests.tool_modules import load_tool

ROOT = Path(__file__).resolve().parents[2]
conv = load_tool('tools/model_converters/alpro_official_to_alpro.py')
#: the release's video and text widths are equal (768); so are ours here
WIDTH = 32
SIZES = rc.Sizes(video_width=WIDTH, text_width=WIDTH, entities=len(ENTITIES))
ANSWERS = 7
#: 4 BERT layers: text layers 0-1, fusion layers 2-3 (the release: 6 + 6)
LAYERS, FUSION = 4, 2


def sizes(frames: int) -> rc.Sizes:
    return rc.Sizes(**{**SIZES.__dict__, 'frames': frames})


def shrink_encoders(model: Config, tokenizer_dir: Path,
                    text_only: bool) -> None:
    """The paper's TimeSformer-B and BERT-base at tiny sizes; the clip
    length and the time-embedding resize mode stay the config's."""
    model.backbone.update(
        arch=dict(
            embed_dims=WIDTH, depth=SIZES.depth, num_heads=2, mlp_ratio=2.),
        img_size=32,
        patch_size=SIZES.patch,
        pretrained=None)
    model.text_encoder = tiny_text_encoder(
        num_layers=LAYERS, fusion_layer=FUSION, text_only=text_only)
    if 'data_preprocessor' in model:
        model.data_preprocessor.tokenizer.path = str(tokenizer_dir)


def shrunk_config(path: str,
                  tokenizer_dir: Path,
                  tmp_path: Path,
                  stage_one: Optional[Path] = None) -> Path:
    """A paper config at tiny sizes, written to a file for ``--config``."""
    cfg = Config.fromfile(ROOT / path)
    model = cfg.model
    shrink_encoders(model, tokenizer_dir, model.type == 'PrompterPretrainer')
    if model.type != 'AlproVideoQA':
        model.embed_dim = SIZES.embed
    if model.type == 'AlproVideoQA':
        model.num_answers = ANSWERS
    if model.type == 'AlproPretrainer':
        model.data_preprocessor.pem.patch_size = SIZES.patch
        shrink_encoders(model.prompter.prompter, tokenizer_dir, True)
        model.prompter.prompter.embed_dim = SIZES.embed
        model.prompter.update(
            checkpoint=str(stage_one),
            entity_file=str(write_entities(tmp_path / 'entities.txt')),
            tokenizer=dict(path=str(tokenizer_dir)),
            num_entities=len(ENTITIES))
    out = tmp_path / f'shrunk_{Path(path).name}'
    Config(dict(model=model.to_dict())).dump(str(out))
    return out


def convert(original: Dict[str, torch.Tensor], config: Path, tmp_path: Path,
            capsys, *extra: str) -> Dict[str, torch.Tensor]:
    """Save ``original`` as the release does (a flat state dict), convert
    it for ``config`` and return the converted state dict."""
    src = tmp_path / f'release_{config.stem}.pt'
    dst = tmp_path / f'converted_{config.stem}.pth'
    torch.save(original, src)
    assert conv.main([str(src),
                      str(dst), '--config',
                      str(config), *extra]) == 0, capsys.readouterr().out
    return torch.load(dst, weights_only=True)['state_dict']


def build_and_load(config: Path, checkpoint: Path):
    """Build the config's model and load the checkpoint as ``load_from``
    does (MMEngine's ``_load_checkpoint_to_model``)."""
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    load_checkpoint(model, str(checkpoint), map_location='cpu')
    return model.eval()


def assert_all_loaded(
    model,
    converted: Dict[str, torch.Tensor],
    not_in_release: frozenset = frozenset()
) -> None:
    """Every tensor of the model equals the converted one, in the model's
    dtype; a key the release does not have must be named."""
    for key, value in model.state_dict().items():
        if key in not_in_release:
            assert key not in converted, key
            continue
        assert key in converted, f'{key} got nothing from the checkpoint'
        expected = converted[key].to(value.dtype)
        assert value.shape == expected.shape, key
        assert torch.equal(value, expected), key


def nearest(time_embed: torch.Tensor, frames: int) -> torch.Tensor:
    """The release's resize, written out: frame t of T' takes entry
    floor(t * T / T')."""
    old = time_embed.shape[1]
    return time_embed[:, [t * old // frames for t in range(frames)]]


def relu_mlp(x: torch.Tensor, state: Dict[str, torch.Tensor],
             prefix: str) -> torch.Tensor:
    """The release's Linear-ReLU-Linear heads (``mpm_head``,
    ``classifier``) from its own tensors."""
    hidden = F.relu(x @ state[f'{prefix}0.weight'].T +
                    state[f'{prefix}0.bias'])
    return hidden @ state[f'{prefix}2.weight'].T + state[f'{prefix}2.bias']


@pytest.fixture(scope='module')
def released(tokenizer_dir, tmp_path_factory):
    """The release's stage-1 prompter converted for the stage-1 paper
    config, and the folder of the run."""
    tmp = tmp_path_factory.mktemp('release')
    original = rc.fill(rc.prompter(sizes(4)), SIZES.positions, seed=11)
    config = shrunk_config('configs/alpro/pretrain_prompter_webvid.py',
                           tokenizer_dir, tmp)
    src, dst = tmp / 'prompter_pretrained.pt', tmp / 'prompter.pth'
    torch.save(original, src)
    assert conv.main([
        str(src),
        str(dst), '--config',
        str(config), '--prompter-text-layers',
        str(FUSION)
    ]) == 0
    return dict(original=original, config=config, checkpoint=dst, tmp=tmp)


def test_stage_one_prompter(released):
    converted = torch.load(
        released['checkpoint'], weights_only=True)['state_dict']
    model = build_and_load(released['config'], released['checkpoint'])
    assert_all_loaded(model, converted)
    original = released['original']
    assert model.backbone.time_embed.shape == (1, 4, WIDTH)
    assert torch.equal(model.backbone.time_embed,
                       original['visual_encoder.model.time_embed'])
    assert torch.equal(model.vtc_head.temp, original['temp'])


def test_stage_two_pretrain(released, tokenizer_dir, capsys):
    tmp = released['tmp']
    original = rc.fill(
        rc.pretrain(sizes(4), LAYERS, LAYERS), SIZES.positions, seed=12)
    config = shrunk_config('configs/alpro/pretrain_webvid.py', tokenizer_dir,
                           tmp, released['checkpoint'])
    converted = convert(original, config, tmp, capsys,
                        '--prompter-text-layers', str(FUSION))
    model = build_and_load(config, tmp / f'converted_{config.stem}.pth')
    # the prompter's bf16 copy (weights_dtype='bfloat16' in the config)
    assert_all_loaded(model, converted)
    assert model.prompter.prompter.backbone.time_embed.dtype == torch.bfloat16

    assert torch.equal(model.backbone.time_embed,
                       original['visual_encoder.model.time_embed'])
    assert model.backbone.time_embed.abs().min() > 0
    # the release's mpm_head: Linear-ReLU-Linear (GELU differs)
    x = torch.randn(5, WIDTH)
    with torch.no_grad():
        torch.testing.assert_close(
            model.pem_head(x), relu_mlp(x, original, 'mpm_head.'))
        torch.testing.assert_close(
            model.vtm_head(x),
            x @ original['itm_head.weight'].T + original['itm_head.bias'])


@pytest.mark.parametrize('path', [
    'configs/alpro/zeroshot_msrvtt_ret.py',
    'configs/alpro/finetune_msrvtt_qa.py',
])
def test_stage_two_into_longer_clips_resizes_time_embed_nearest(
        released, tokenizer_dir, capsys, path):
    """Zero-shot and fine-tuning start from the 4-frame stage-2 model; the
    release resizes its time embedding to 8 or 16 frames by nearest
    interpolation, once, at load time. The converter does it for the
    config, and ``load_from`` does it for a 4-frame file."""
    tmp = released['tmp']
    original = rc.fill(
        rc.pretrain(sizes(4), LAYERS, LAYERS), SIZES.positions, seed=13)
    config = shrunk_config(path, tokenizer_dir, tmp)
    frames = 16 if 'qa' in path else 8
    converted = convert(original, config, tmp, capsys)
    report = capsys.readouterr().out
    assert (f'backbone.time_embed: [1, 4, {WIDTH}] -> [1, {frames}, '
            f'{WIDTH}]') in report
    expected = nearest(original['visual_encoder.model.time_embed'], frames)
    assert torch.equal(converted['backbone.time_embed'], expected)

    # the 4-frame file itself, through load_from: resized on load
    as_is, _ = conv.convert_state_dict(original)
    four = tmp / 'four_frames.pth'
    torch.save(dict(state_dict=as_is), four)
    model = build_and_load(config, four)
    assert model.backbone.time_embed.shape == (1, frames, WIDTH)
    assert torch.equal(model.backbone.time_embed, expected)


@pytest.mark.parametrize('path', [
    'configs/alpro/finetune_msrvtt_ret.py',
    'configs/alpro/finetune_didemo_ret.py',
])
def test_fine_tuned_retrieval(released, tokenizer_dir, capsys, path):
    tmp = released['tmp']
    original = rc.fill(
        rc.base_model(sizes(8), layers=LAYERS), SIZES.positions, seed=14)
    config = shrunk_config(path, tokenizer_dir, tmp)
    converted = convert(original, config, tmp, capsys)
    assert 'resized to' in capsys.readouterr().out
    model = build_and_load(config, tmp / f'converted_{config.stem}.pth')
    assert_all_loaded(model, converted)
    # 8 frames in the file and in the config: loaded as they are
    assert torch.equal(model.backbone.time_embed,
                       original['visual_encoder.model.time_embed'])
    assert model.backbone.time_embed.shape == (1, 8, WIDTH)
    assert model.backbone.time_embed.abs().min() > 0


@pytest.mark.parametrize('path', [
    'configs/alpro/finetune_msrvtt_qa.py',
    'configs/alpro/finetune_msvd_qa.py',
])
def test_fine_tuned_video_qa(released, tokenizer_dir, capsys, path):
    tmp = released['tmp']
    original = rc.fill(
        rc.video_qa(sizes(16), ANSWERS, LAYERS), SIZES.positions, seed=15)
    config = shrunk_config(path, tokenizer_dir, tmp)
    converted = convert(original, config, tmp, capsys)
    model = build_and_load(config, tmp / f'converted_{config.stem}.pth')
    assert_all_loaded(model, converted)
    assert torch.equal(model.backbone.time_embed,
                       original['visual_encoder.model.time_embed'])
    assert model.backbone.time_embed.shape == (1, 16, WIDTH)
    x = torch.randn(3, WIDTH)
    with torch.no_grad():
        torch.testing.assert_close(
            model.qa_head(x), relu_mlp(x, original, 'classifier.'))


def test_a_tensor_that_does_not_fit_is_an_error(released, tokenizer_dir,
                                                capsys):
    """Five answers in the file, seven in the config: the converter writes
    nothing and names the tensors; loading the file anyway raises."""
    tmp = released['tmp']
    original = rc.fill(
        rc.video_qa(sizes(16), 5, LAYERS), SIZES.positions, seed=16)
    config = shrunk_config('configs/alpro/finetune_msrvtt_qa.py',
                           tokenizer_dir, tmp)
    src, dst = tmp / 'qa5.pt', tmp / 'qa5.pth'
    torch.save(original, src)
    assert conv.main([str(src), str(dst), '--config', str(config)]) == 1
    report = capsys.readouterr().out
    assert f'qa_head.fc2.weight: converted [5, {2 * WIDTH}], model ' \
        f'[{ANSWERS}, {2 * WIDTH}]' in report
    assert f'nothing written to {dst}' in report
    assert not dst.exists()

    converted, _ = conv.convert_state_dict(original)
    torch.save(dict(state_dict=converted), dst)
    with pytest.raises(CheckpointShapeError) as error:
        build_and_load(config, dst)
    assert [key for key, _, _ in error.value.mismatched
            ] == ['qa_head.fc2.weight', 'qa_head.fc2.bias']
