"""tools/analysis/retrieval_errors.py: the demo clips' attributes rebuilt
from meta.json are those the corpus was made with, and the error summary
counts what the wrong top-ranked clips share."""
import json
from pathlib import Path

import pytest
import torch

from tests.tool_modules import load_tool

errors = load_tool('tools/analysis/retrieval_errors.py')
mdd = load_tool('tools/data/make_demo_data.py')


def test_clip_attributes_are_those_the_captions_name(tmp_path: Path):
    out = tmp_path / 'demo'
    mdd.main([
        '--out',
        str(out), '--seed', '3', '--num-videos', '24', '--num-images', '6',
        '--size', '32', '--num-frames', '8', '--workers', '1'
    ])
    attributes = errors.clip_attributes(out)
    rows = [
        json.loads(line) for line in (
            out /
            'annotations/msrvtt_ret/test.jsonl').read_text().splitlines()
    ]
    assert rows
    for row in rows:
        clip = attributes[row['clip_name']]
        caption = row['caption'].lower()
        assert clip['colour'] in caption and clip['shape'] in caption, row
        assert any(phrase in caption
                   for phrase in mdd.DIRECTION_PHRASES[clip['direction']])


def attrs(colour, shape, direction):
    return dict(colour=colour, shape=shape, direction=direction)


def test_top1_errors_count_what_the_wrong_clip_shares():
    clips = [
        attrs('red', 'star', 'up'),
        attrs('red', 'star', 'up'),  # same three as clip 0
        attrs('red', 'circle', 'up'),  # same colour and direction as 0
        attrs('blue', 'cross', 'left'),
    ]
    own = torch.tensor([0, 1, 2, 3])
    scores = torch.eye(4)
    scores[0, 1] = 2  # caption 0 prefers clip 1: all three shared
    scores[2, 0] = 2  # caption 2 prefers clip 0: colour and direction
    result = errors.top1_errors(scores, own, clips)
    assert result['wrong'] == 2 and result['r1'] == pytest.approx(50)
    assert result['same_colour'] == pytest.approx(1.0)
    assert result['same_shape'] == pytest.approx(0.5)
    assert result['same_direction'] == pytest.approx(1.0)
    assert result['same_all_three'] == pytest.approx(0.5)
    # every caption right: no fractions of nothing
    assert errors.top1_errors(torch.eye(4), own, clips) == dict(
        r1=100, wrong=0)
    # clips 0 and 1 cannot be told apart by the three: 1/2 each
    assert errors.attribute_chance(own, clips) == pytest.approx(
        100 * (0.5 + 0.5 + 1 + 1) / 4)
