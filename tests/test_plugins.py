"""Plugins: entry-point autoload, custom_imports, and a broken plugin."""
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from alpro import plugins
from alpro.registry import DATASETS, TRANSFORMS

REPO = Path(__file__).resolve().parents[1]
PLUGIN_CONFIG = (
    REPO / 'plugins/alpro-example-plugin/configs/demo_jsonl_pipeline.py')


@pytest.fixture(scope='module', autouse=True)
def example_plugin_installed():
    try:
        distribution('alpro-example-plugin')
    except PackageNotFoundError:
        pytest.fail('the example plugin must be installed for these tests: '
                    'pip install --no-deps -e plugins/alpro-example-plugin')


def run_python(code: str, autoload: bool, extra_path: str = '') -> str:
    env = dict(os.environ)
    env.pop('ALPRO_DISABLE_PLUGIN_AUTOLOAD', None)
    if not autoload:
        env['ALPRO_DISABLE_PLUGIN_AUTOLOAD'] = '1'
    if extra_path:
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (extra_path, env.get('PYTHONPATH')) if p)
    done = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True)
    return done


def checks(stdout: str) -> list:
    """The registry checks the child printed, in order."""
    return [
        line.split()[1:] for line in stdout.splitlines()
        if line.startswith('CHECK ')
    ]


CHECK = ('from alpro.registry import DATASETS, TRANSFORMS; '
         "print('CHECK', 'TemporalReverse' in TRANSFORMS.module_dict, "
         "'JsonlVideoTextDataset' in DATASETS.module_dict)")


@pytest.mark.slow
def test_entry_point_autoload_on_import():
    done = run_python('import alpro; ' + CHECK, autoload=True)
    assert done.returncode == 0, done.stderr
    assert checks(done.stdout) == [['True', 'True']]
    assert 'loaded plugin example' in done.stdout + done.stderr


@pytest.mark.slow
def test_autoload_can_be_disabled():
    done = run_python('import alpro; ' + CHECK, autoload=False)
    assert done.returncode == 0, done.stderr
    assert checks(done.stdout) == [['False', 'False']]


@pytest.mark.slow
def test_custom_imports_in_a_config():
    code = ('import alpro; ' + CHECK + '; from mmengine.config import '
            f"Config; Config.fromfile(r'{PLUGIN_CONFIG}'); " + CHECK)
    done = run_python(code, autoload=False)
    assert done.returncode == 0, done.stderr
    assert checks(done.stdout) == [['False', 'False'], ['True', 'True']]


def test_load_plugins_once_and_by_force():
    loaded = plugins.load_plugins(force=True)
    assert 'example' in loaded
    assert 'alpro-example-plugin 0.1.0' in loaded['example']
    assert TRANSFORMS.get('TemporalReverse').__module__.startswith(
        'alpro_example_plugin')
    assert DATASETS.get('JsonlVideoTextDataset') is not None
    # a second call without force imports nothing again
    assert plugins.load_plugins() == loaded


@pytest.mark.slow
def test_broken_plugin_names_itself_and_the_cause(tmp_path):
    (tmp_path / 'broken_alpro_plugin.py').write_text(
        "raise ImportError('needs libfoo, which is not installed')\n")
    info = tmp_path / 'broken_alpro_plugin-0.3.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: broken-alpro-plugin\nVersion: 0.3\n')
    (info / 'entry_points.txt'
     ).write_text('[alpro.plugins]\nbroken = broken_alpro_plugin\n')
    done = run_python('import alpro', autoload=True, extra_path=str(tmp_path))
    assert done.returncode != 0
    assert "alpro plugin 'broken'" in done.stderr
    assert 'broken-alpro-plugin 0.3' in done.stderr
    assert 'needs libfoo' in done.stderr
    # and the switch lets alpro start without it
    done = run_python('import alpro', autoload=False, extra_path=str(tmp_path))
    assert done.returncode == 0, done.stderr


def test_plugin_transform_reverses_clip_and_caption():
    import torch
    from alpro_example_plugin import TemporalReverse
    clip = torch.arange(4).view(4, 1, 1, 1).expand(4, 3, 2, 2)
    out = TemporalReverse(prob=1.0)(
        dict(imgs=clip, text='A square moves left, then Up'))
    assert out['imgs'][:, 0, 0, 0].tolist() == [3, 2, 1, 0]
    assert out['text'] == 'A square moves right, then Down'
    kept = TemporalReverse(prob=0.0)(dict(imgs=clip, text='moves left'))
    assert kept['imgs'][:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert kept['text'] == 'moves left'
