"""Safe checkpoint loading, the message-hub round trip, no downloads."""
import collections

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from alpro.utils import (CheckpointShapeError, UnsafeCheckpointError,
                         from_safe_objects, load_checkpoint_safely,
                         load_state_dict_checked, to_safe_objects)


class NotATensor:
    """Any object other than tensors and plain Python."""


def test_plain_checkpoint_loads_through_mmengine(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save({
        'state_dict': {
            'w': torch.ones(2)
        },
        'meta': {
            'epoch': 3
        }
    }, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['epoch'] == 3
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_unsafe_objects_are_refused_and_named(tmp_path):
    path = tmp_path / 'unsafe.pth'
    torch.save(
        {
            'w': torch.ones(1),
            'extra': NotATensor(),
            'hub': HistoryBuffer([1.0], [1])
        }, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    message = str(info.value)
    assert 'test_checkpoint.NotATensor' in message
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in message
    assert 'unsafe.pth' in message


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_safely(str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize(
    'url',
    ['https://example.com/a.pth', 'torchvision://resnet50', 'open-mmlab://x'])
def test_no_downloads(url):
    with pytest.raises(RuntimeError, match='does not download'):
        CheckpointLoader.load_checkpoint(url)


def test_message_hub_round_trip(tmp_path):
    hub = collections.OrderedDict(
        log_scalars=collections.OrderedDict(
            loss=HistoryBuffer([0.5, 0.25], [1, 2], max_length=7)),
        runtime_info=collections.OrderedDict(
            iter=np.int64(12), lr=np.float32(0.5), arr=np.arange(3)),
        resumed_keys={'loss': True})
    path = tmp_path / 'hub.pth'
    torch.save({'message_hub': to_safe_objects(hub)}, path)
    loaded = from_safe_objects(load_checkpoint_safely(str(path)))
    buffer = loaded['message_hub']['log_scalars']['loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.max_length == 7
    np.testing.assert_array_equal(buffer.data[0], [0.5, 0.25])
    np.testing.assert_array_equal(buffer.data[1], [1, 2])
    info = loaded['message_hub']['runtime_info']
    assert info['iter'] == 12 and type(info['iter']) is int
    assert torch.equal(info['arr'], torch.arange(3))


class TwoLayers(torch.nn.Module):
    """A model whose second layer a checkpoint may not fit."""

    def __init__(self, out: int = 3) -> None:
        super().__init__()
        self.first = torch.nn.Linear(2, 4)
        self.second = torch.nn.Linear(4, out)


def _saved(tmp_path, model: torch.nn.Module, extra=None) -> str:
    state = dict(model.state_dict(), **(extra or {}))
    path = tmp_path / 'model.pth'
    torch.save({'state_dict': state}, path)
    return str(path)


def test_load_from_refuses_a_tensor_of_another_shape(tmp_path):
    """What ``Runner.load_checkpoint`` (``load_from``, ``resume``) calls:
    MMEngine would skip ``second.*`` with a warning."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    path = _saved(tmp_path, TwoLayers(out=5))
    model = TwoLayers(out=3)
    checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    with pytest.raises(CheckpointShapeError) as error:
        _load_checkpoint_to_model(model, checkpoint)
    assert error.value.mismatched == [('second.weight', (5, 4), (3, 4)),
                                      ('second.bias', (5, ), (3, ))]
    message = str(error.value)
    assert 'second.weight: checkpoint [5, 4], model [3, 4]' in message
    assert 'Build the model it was trained with' in message


def test_init_cfg_pretrained_refuses_a_tensor_of_another_shape(tmp_path):
    from mmengine.model import BaseModule
    path = _saved(tmp_path, TwoLayers(out=5))

    class Pretrained(BaseModule):

        def __init__(self) -> None:
            super().__init__(init_cfg=dict(type='Pretrained', checkpoint=path))
            self.first = torch.nn.Linear(2, 4)
            self.second = torch.nn.Linear(4, 3)

    with pytest.raises(CheckpointShapeError, match='second.bias'):
        Pretrained().init_weights()


def test_missing_and_unexpected_keys_are_reported_not_fatal(tmp_path):
    from mmengine.runner import load_checkpoint
    source = TwoLayers()
    state = dict(source.state_dict())
    del state['second.bias']
    state['third.weight'] = torch.ones(1)
    path = tmp_path / 'partial.pth'
    torch.save(state, path)
    model = TwoLayers()
    load_checkpoint(model, str(path), map_location='cpu')
    assert torch.equal(model.second.weight, source.second.weight)
    assert not torch.equal(model.second.bias, source.second.bias)
    with pytest.raises(
            RuntimeError,
            match='missing keys in source '
            'state_dict: second.bias'):
        load_checkpoint(model, str(path), map_location='cpu', strict=True)


def test_a_partial_load_is_one_summary_line(tmp_path, capsys):
    """Missing and unexpected keys: one WARNING line with counts and the
    first keys, every key at DEBUG; no bare print of the loader backend."""
    import logging

    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint
    state = {f'extra{i}.weight': torch.ones(1) for i in range(5)}
    path = tmp_path / 'other_model.pth'
    torch.save(state, path)
    logger = MMLogger.get_instance(
        f'partial-load-{tmp_path.name}', log_level='DEBUG')
    records = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        load_checkpoint(
            TwoLayers(),
            str(path),
            map_location='cpu',
            logger=logger.instance_name)
    finally:
        logger.removeHandler(handler)
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert '\n' not in line
    assert '4 missing (first.weight, first.bias, second.weight, ...)' in line
    assert '5 unexpected' in line and 'extra4.weight' not in line
    debug = ' '.join(r.getMessage() for r in records
                     if r.levelno == logging.DEBUG)
    assert 'second.bias' in debug and 'extra4.weight' in debug
    assert 'backend' not in capsys.readouterr().out


def test_checked_load_runs_the_modules_load_hooks():
    """A module may adapt a tensor before the shape check (TimeSformer
    resizes its embeddings so)."""
    model = TwoLayers()

    def trim(module, state_dict, prefix, *args):
        key = prefix + 'second.bias'
        state_dict[key] = state_dict[key][:3]

    model.register_load_state_dict_pre_hook(trim)
    state = dict(TwoLayers().state_dict(), **{'second.bias': torch.ones(6)})
    missing, unexpected = load_state_dict_checked(model, state)
    assert missing == [] and unexpected == []
    assert torch.equal(model.second.bias.detach(), torch.ones(3))
