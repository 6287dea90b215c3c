"""tools/misc/print_registry.py lists every registry, plugins included."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_lists_components_with_modules_and_plugins():
    env = dict(os.environ)
    env.pop('ALPRO_DISABLE_PLUGIN_AUTOLOAD', None)
    done = subprocess.run(
        [sys.executable,
         str(REPO / 'tools/misc/print_registry.py')],
        env=env,
        capture_output=True,
        text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS',
                 'VISBACKENDS', 'MODEL_WRAPPERS', 'BACKBONES', 'TEXT_ENCODERS',
                 'HEADS', 'LOSSES', 'PROMPTERS'):
        assert f'\n{name} (alpro::' in '\n' + out
    lines = {
        line.split()[0]: line.split()[-1]
        for line in out.splitlines() if line.startswith('  ')
    }
    assert lines['WebVidDataset'] == 'alpro.datasets.webvid'
    assert lines['DecordDecode'] == 'alpro.datasets.transforms.loading'
    assert lines['TemporalReverse'] == 'alpro_example_plugin.temporal_reverse'
    assert lines['JsonlVideoTextDataset'].startswith('alpro_example_plugin')
