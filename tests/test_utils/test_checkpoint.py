"""Safe checkpoint loading, the message-hub round trip, no downloads."""
import collections

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from alpro.utils import (UnsafeCheckpointError, from_safe_objects,
                         load_checkpoint_safely, to_safe_objects)


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
