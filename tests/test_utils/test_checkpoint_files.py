"""Checkpoint files: written atomically, broken ones named, unsafe ones
refused without advice to unpickle them, the newest loadable one found for
``--resume``."""
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import save_checkpoint

from alpro.utils.checkpoint import (CorruptCheckpointError,
                                    UnsafeCheckpointError, checkpoint_problem,
                                    find_resumable_checkpoint,
                                    load_checkpoint_safely)
from tests.tool_runs import tool_env

REPO = Path(__file__).resolve().parents[2]

# In a child process: allow files of at most 64 KiB (as a full disk would),
# then save a 4 MB checkpoint over PATH the way the Runner does.
FULL_DISK_SAVE = '''
import resource, signal, sys
import torch
import alpro.utils  # noqa: F401
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import save_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
try:
    save_checkpoint({'state_dict': {'w': torch.zeros(1 << 20)}}, sys.argv[1])
except OSError as error:
    print('save failed:', error)
'''


@pytest.mark.slow
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path))
    done = subprocess.run([sys.executable, '-c', FULL_DISK_SAVE,
                           str(path)],
                          env=tool_env(),
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert 'save failed' in done.stdout, done.stdout + done.stderr[-2000:]
    kept = load_checkpoint_safely(str(path))
    assert torch.equal(kept['state_dict']['w'], torch.ones(3))
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']  # no leftovers


def test_saved_file_is_complete_with_usual_permissions(tmp_path):
    path = tmp_path / 'sub' / 'iter_5.pth'
    save_checkpoint({'state_dict': {'w': torch.arange(4.)}}, str(path))
    assert torch.equal(
        load_checkpoint_safely(str(path))['state_dict']['w'], torch.arange(4.))
    plain = tmp_path / 'plain'
    plain.write_bytes(b'')
    assert path.stat().st_mode == plain.stat().st_mode
    assert sorted(os.listdir(path.parent)) == ['iter_5.pth']


def broken_files(folder: Path) -> dict:
    good = folder / 'good.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, good)
    data = good.read_bytes()
    (folder / 'empty.pth').write_bytes(b'')
    (folder / 'truncated.pth').write_bytes(data[:len(data) // 2])
    (folder / 'garbage.pth').write_bytes(np.random.default_rng(0).bytes(2048))
    return {
        name: folder / f'{name}.pth'
        for name in ('empty', 'truncated', 'garbage')
    }


@pytest.mark.parametrize('kind,problem', [('empty', 'empty (0 bytes)'),
                                          ('truncated', 'archive is damaged'),
                                          ('garbage', 'not a PyTorch')])
def test_a_broken_checkpoint_is_named(tmp_path, kind, problem):
    path = broken_files(tmp_path)[kind]
    with pytest.raises(CorruptCheckpointError) as info:
        load_checkpoint_safely(str(path))
    assert str(path) in str(info.value) and problem in str(info.value)
    assert '--resume' in str(info.value)
    assert problem in checkpoint_problem(str(path))


def test_unsafe_file_names_the_converter_and_never_weights_only_false(
        tmp_path):
    path = tmp_path / 'release.pt'
    torch.save({'model': {'w': torch.ones(1)}, 'step': np.int64(3)}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_safely(str(path))
    shown = ''.join(traceback.format_exception(info.type, info.value, info.tb))
    assert 'tools/model_converters/alpro_official_to_alpro.py' in shown
    assert 'numpy' in shown and str(path) in shown
    for advice in ('weights_only=False', '`weights_only` set to `False`'):
        assert advice not in shown
    assert checkpoint_problem(str(path)).startswith('it holds objects')


def test_newest_loadable_checkpoint_for_resume(tmp_path):
    for epoch in (1, 2, 3):
        save_checkpoint({'meta': {
            'epoch': epoch
        }}, str(tmp_path / f'epoch_{epoch}.pth'))
        os.utime(tmp_path / f'epoch_{epoch}.pth', (epoch, epoch))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == (str(tmp_path /
                                                            'epoch_3.pth'), [])
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    (tmp_path / 'epoch_2.pth').write_bytes(b'not a checkpoint')
    chosen, skipped = find_resumable_checkpoint(str(tmp_path))
    assert chosen == str(tmp_path / 'epoch_1.pth')
    assert [Path(path).name
            for path, _ in skipped] == ['epoch_3.pth', 'epoch_2.pth']
    assert 'empty' in skipped[0][1]
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    assert find_resumable_checkpoint(str(tmp_path))[0] is None


class WritesAFile:
    """Unpickling this object would create ``path`` (code from the file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), 'w')


def test_resume_and_load_from_never_run_code_from_a_file(
        tmp_path, monkeypatch):
    # not the tests' global switch: the loader itself must be safe
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {}, 'meta': WritesAFile(marker)}, path)
    # the loader behind Runner.resume, load_from and init_cfg Pretrained
    with pytest.raises(UnsafeCheckpointError, match='io.open'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()
    assert checkpoint_problem(str(path)) is not None
    assert not marker.exists()
