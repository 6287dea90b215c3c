"""FrameViT(pretrained=...) never unpickles code, whatever timm and the
environment allow, and reports a partial load in one line."""
import logging
from pathlib import Path

import pytest
import timm
import torch
from mmengine.logging import MMLogger

from alpro.models.backbones import FrameViT
from alpro.utils import UnsafeCheckpointError
from tests.test_models.test_backbones.test_frame_vit import TINY


class WritesAFile:
    """Unpickling this calls ``open(marker, 'w')``: code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), 'w'))


def tiny_state_dict() -> dict:
    torch.manual_seed(0)
    kwargs = dict(TINY)
    return timm.create_model(
        kwargs.pop('model_name'), pretrained=False, num_classes=0,
        **kwargs).state_dict()


def test_a_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    # not the tests' global switch: FrameViT must be safe on its own
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'vit.pth'
    torch.save(
        {
            'state_dict': tiny_state_dict(),
            'payload': WritesAFile(marker)
        }, path)
    backbone = FrameViT(**TINY, pretrained=str(path))
    with pytest.raises(UnsafeCheckpointError) as error:
        backbone.init_weights()
    assert not marker.exists()
    assert str(path) in str(error.value)
    assert 'open' in str(error.value)  # the unsafe global is named
    assert 'weights_only=False' not in str(error.value)


class Lines(logging.Handler):

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_partial_load_is_one_summary_line(tmp_path):
    state = tiny_state_dict()
    for key in ('norm.weight', 'norm.bias'):
        del state[key]
    state['extra.weight'] = torch.zeros(2)
    path = tmp_path / 'vit.pth'
    torch.save(state, path)
    logger = MMLogger.get_current_instance()
    lines, level = Lines(), logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    try:
        FrameViT(**TINY, pretrained=str(path)).init_weights()
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    shown = [r for r in lines.records if r.levelno >= logging.INFO]
    assert len(shown) == 1
    summary = shown[0].getMessage()
    assert '2 missing keys' in summary and '1 unexpected' in summary
    assert '\n' not in summary and 'norm.weight' not in summary
    debug = [r.getMessage() for r in lines.records if r.levelno < logging.INFO]
    assert any('norm.weight' in m and 'extra.weight' in m for m in debug)
