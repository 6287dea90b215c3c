"""Shared fixtures: real video files written with OpenCV, good and bad;
the warnings MMEngine's logger emits."""
import logging
import os
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import pytest
from mmengine.logging import MMLogger

from tests.video_files import write_video

# Every checkpoint in the tests loads under torch's safe unpickler.
os.environ.setdefault('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '1')
# Plugins installed in the environment must not change what a test builds.
os.environ.setdefault('ALPRO_DISABLE_PLUGIN_AUTOLOAD', '1')


@pytest.fixture
def video_factory(tmp_path: Path) -> Callable[..., Path]:
    """``video_factory(name, **kwargs)`` writes a real clip under tmp_path."""

    def make(name: str = 'clip.mp4', **kwargs) -> Path:
        return write_video(tmp_path / name, **kwargs)

    return make


@pytest.fixture
def bad_videos(tmp_path: Path) -> Dict[str, Path]:
    """Real bad files, one per failure a data pipeline must survive.

    Keys: ``missing`` (no file), ``empty`` (zero bytes), ``truncated`` (an mp4
    cut in half: it does not open), ``truncated_avi`` (an MJPEG avi cut in
    half: it opens, then fails to decode its last frames), ``garbage`` (random
    bytes named .mp4), ``short`` (a valid clip of 2 frames).
    """
    root = tmp_path / 'bad'
    root.mkdir()
    good = write_video(root / 'good.mp4', num_frames=16)
    data = good.read_bytes()
    (root / 'empty.mp4').write_bytes(b'')
    (root / 'truncated.mp4').write_bytes(data[:len(data) // 2])
    (root / 'garbage.mp4').write_bytes(np.random.default_rng(0).bytes(4096))
    avi = write_video(root / 'good.avi', num_frames=16).read_bytes()
    (root / 'truncated.avi').write_bytes(avi[:len(avi) // 2])
    write_video(root / 'short.mp4', num_frames=2)
    return dict(
        missing=root / 'missing.mp4',
        empty=root / 'empty.mp4',
        truncated=root / 'truncated.mp4',
        truncated_avi=root / 'truncated.avi',
        garbage=root / 'garbage.mp4',
        short=root / 'short.mp4')


REPO_ROOT = Path(__file__).resolve().parents[1]
WORDS = ('a red green blue circle square moves left right up down the on '
         'over background').split()


@pytest.fixture(scope='session')
def tokenizer_dir(tmp_path_factory) -> Path:
    """A real ``BertTokenizerFast`` over a tiny in-memory vocabulary, saved
    as a Hugging Face tokenizer folder."""
    from transformers import BertTokenizerFast
    folder = tmp_path_factory.mktemp('tokenizer')
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *WORDS]
    # transformers 5 ignores vocab_file=; the vocabulary goes in as a dict
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    assert tokenizer.unk_token_id not in tokenizer(' '.join(
        WORDS))['input_ids'], 'the test tokenizer must know every word'
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope='module')
def stage_one(tokenizer_dir, tmp_path_factory):
    """``(checkpoint, entity file)`` of the tiny stage-1 prompter, for the
    models built on it (the stage-2 model, its converter)."""
    from tests.test_models.test_prompters.tiny_entity_prompter import (
        save_stage1_checkpoint, write_entities)
    folder = tmp_path_factory.mktemp('stage1')
    save_stage1_checkpoint(folder / 'prompter.pth', tokenizer_dir)
    return folder / 'prompter.pth', write_entities(folder / 'entities.txt')


@pytest.fixture(scope='session')
def demo_corpus(tmp_path_factory) -> Path:
    """A small demo corpus from ``tools/data/make_demo_data.py``, in a
    folder laid out as a working directory: ``<dir>/data/demo``."""
    import subprocess
    import sys
    workdir = tmp_path_factory.mktemp('demo_workdir')
    subprocess.run([
        sys.executable,
        str(REPO_ROOT / 'tools/data/make_demo_data.py'), '--out',
        str(workdir / 'data/demo'), '--num-videos', '24', '--num-images', '6',
        '--size', '32', '--num-frames', '8'
    ],
                   check=True,
                   capture_output=True)
    return workdir


@pytest.fixture
def warnings_logged():
    """The messages logged at WARNING through MMEngine's current logger."""
    logger = MMLogger.get_current_instance()
    messages = []

    class Collect(logging.Handler):

        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)
