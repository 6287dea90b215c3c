"""The shell launchers print their usage when arguments are missing or the
process count is not a number, instead of bash's "unbound variable"."""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def launch(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', str(REPO / 'tools' / script), *args],
                          capture_output=True,
                          text=True,
                          timeout=60)


@pytest.mark.parametrize('script, args, usage', [
    ('dist_train.sh', [], 'CONFIG NPROC'),
    ('dist_train.sh', ['configs/demo/pretrain_prompter.py'], 'CONFIG NPROC'),
    ('dist_train.sh', ['configs/demo/pretrain_prompter.py', '--amp'
                       ], 'CONFIG NPROC'),
    ('dist_test.sh', ['configs/demo/pretrain.py', 'epoch_10.pth'
                      ], 'CONFIG CHECKPOINT NPROC'),
    ('dist_run.sh', ['tools/train.py'], 'TOOL.py NPROC'),
    ('slurm_train.sh', ['partition', 'job'], 'PARTITION JOB_NAME CONFIG'),
])
def test_missing_arguments_print_usage(script, args, usage):
    done = launch(script, *args)
    assert done.returncode == 2
    assert done.stderr.startswith('usage:')
    assert f'{script} {usage}' in done.stderr
    assert 'unbound variable' not in done.stderr
    assert 'Traceback' not in done.stderr


def test_process_count_that_is_no_number_is_named():
    done = launch('dist_train.sh', 'configs/demo/pretrain.py', 'two')
    assert done.returncode == 2
    assert "not 'two'" in done.stderr
