"""The environment switches of plugin autoload: the usual true words, and a
per-plugin list (``ALPRO_DISABLE_PLUGINS``)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpro import plugins

REPO = Path(__file__).resolve().parents[1]
LOADED = ('from alpro.registry import TRANSFORMS; '
          "print('LOADED', 'TemporalReverse' in TRANSFORMS.module_dict)")


def import_alpro(**variables: str) -> subprocess.CompletedProcess:
    """``import alpro`` in a fresh interpreter with only these switches."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('ALPRO_DISABLE_PLUGIN_AUTOLOAD', 'ALPRO_DISABLE_PLUGINS')
    }
    env.update(variables)
    return subprocess.run([sys.executable, '-c', 'import alpro; ' + LOADED],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=120)


@pytest.mark.parametrize('word', ['1', 'true', 'TRUE', 'Yes', 'on', ' on '])
def test_true_words_disable_autoload(monkeypatch, word):
    monkeypatch.setenv(plugins.DISABLE_ENV, word)
    assert plugins.autoload_disabled()


@pytest.mark.parametrize('word', ['', '0', 'false', 'No', 'OFF'])
def test_false_words_keep_autoload(monkeypatch, word):
    monkeypatch.setenv(plugins.DISABLE_ENV, word)
    assert not plugins.autoload_disabled()


def test_unknown_word_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_ENV, 'sometimes')
    with pytest.raises(ValueError, match=plugins.DISABLE_ENV):
        plugins.autoload_disabled()


@pytest.mark.slow
def test_true_word_stops_autoload_on_import():
    done = import_alpro(ALPRO_DISABLE_PLUGIN_AUTOLOAD='true')
    assert done.returncode == 0, done.stderr
    assert 'LOADED False' in done.stdout
    assert 'loaded plugin' not in done.stdout + done.stderr


@pytest.mark.slow
def test_one_plugin_disabled_by_name():
    done = import_alpro(ALPRO_DISABLE_PLUGINS='other, example')
    assert done.returncode == 0, done.stderr
    assert 'LOADED False' in done.stdout
    assert 'skipped plugin example' in done.stdout + done.stderr
    done = import_alpro(ALPRO_DISABLE_PLUGINS='other')
    assert done.returncode == 0, done.stderr
    assert 'LOADED True' in done.stdout
