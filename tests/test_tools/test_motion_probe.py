"""tools/analysis/motion_probe.py on the small demo corpus: it trains the
config's backbone a few steps and its figures add up (the trained figures
are in docs/benchmarks.md)."""
import json
from pathlib import Path

import pytest

from tests.tool_modules import load_tool

REPO = Path(__file__).resolve().parents[2]
motion_probe = load_tool('tools/analysis/motion_probe.py')

CONFIG = str(REPO / 'configs/demo/finetune_msrvtt_ret.py')


def test_frame_indices_cover_the_clip_in_order():
    assert motion_probe.frame_indices(16, 4, None) == [2, 6, 10, 14]
    rng = motion_probe.np.random.default_rng(0)
    for _ in range(20):
        drawn = motion_probe.frame_indices(16, 8, rng)
        assert [i // 2 for i in drawn] == list(range(8))
    assert all(motion_probe.OPPOSITE[motion_probe.OPPOSITE[d]] == d
               for d in motion_probe.OPPOSITE)


@pytest.mark.parametrize('tubelet_size', [1, 2])
def test_probe_figures_add_up(demo_corpus, tmp_path, tubelet_size):
    out = tmp_path / 'probe.json'
    result = motion_probe.main([
        CONFIG, '--data-root',
        str(demo_corpus / 'data/demo'), '--steps', '2', '--batch-size', '4',
        '--out',
        str(out), '--cfg-options', f'model.backbone.tubelet_size='
        f'{tubelet_size}'
    ])
    assert json.loads(out.read_text()) == result
    where = [
        json.loads(line)
        for line in (demo_corpus /
                     'data/demo/annotations/demo_qa/test.jsonl').open()
    ]
    n = sum(record['answer_type'] == 'where' for record in where)
    assert result['test_clips'] == n > 0
    confusion = result['confusion']
    assert sum(map(sum, (row.values() for row in confusion.values()))) == n
    right = sum(confusion[d][d] for d in confusion)
    axis = sum(confusion[d][d] + confusion[d][motion_probe.OPPOSITE[d]]
               for d in confusion)
    assert result['accuracy'] == pytest.approx(right / n)
    assert result['axis_accuracy'] == pytest.approx(axis / n)
    assert result['sign_accuracy'] == pytest.approx(right / max(axis, 1))
    assert 0 <= result['reversed_opposite'] <= 1
    assert result['backbone']['tubelet_size'] == tubelet_size


def test_missing_corpus_says_how_to_make_it(tmp_path):
    with pytest.raises(SystemExit, match='make_demo_data.py'):
        motion_probe.main([CONFIG, '--data-root', str(tmp_path / 'none')])


def test_linear_probe_of_a_trained_backbone_trains_the_head_only(
        demo_corpus, tmp_path):
    """``--checkpoint --frozen``: the backbone of a model checkpoint, as it
    was after the probe; a checkpoint without the backbone is refused."""
    import torch
    from mmengine.config import Config

    from alpro.registry import BACKBONES
    from alpro.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(1)
    backbone = BACKBONES.build(Config.fromfile(CONFIG).model.backbone)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    checkpoint = tmp_path / 'model.pth'
    torch.save(dict(state_dict=state), checkpoint)
    loaded = []
    original = motion_probe.probe

    def spy(probed, *args):
        result = original(probed, *args)
        loaded.append(probed.state_dict())
        return result

    motion_probe.probe = spy
    try:
        result = motion_probe.main([
            CONFIG, '--data-root',
            str(demo_corpus / 'data/demo'), '--steps', '3', '--batch-size',
            '4', '--checkpoint',
            str(checkpoint), '--frozen'
        ])
    finally:
        motion_probe.probe = original
    assert result['frozen'] and result['checkpoint'] == str(checkpoint)
    for key, value in loaded[0].items():
        assert torch.equal(value, state[f'backbone.{key}']), key
    torch.save(
        dict(state_dict={'text_proj.weight': torch.zeros(2)}), checkpoint)
    with pytest.raises(SystemExit, match='lacks backbone tensors'):
        motion_probe.main([
            CONFIG, '--data-root',
            str(demo_corpus / 'data/demo'), '--checkpoint',
            str(checkpoint)
        ])
    with pytest.raises(SystemExit, match='give its --checkpoint'):
        motion_probe.main([CONFIG, '--frozen'])
