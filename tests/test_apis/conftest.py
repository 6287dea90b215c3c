"""The tiny retrieval model the inferencer tests share."""
from pathlib import Path

import pytest

from alpro.apis import init_model
from tests.tool_runs import save_random_model

RETRIEVAL_CONFIG = Path(__file__).parents[1] / 'data/configs/retrieval_eval.py'


@pytest.fixture
def retrieval_model(demo_corpus, tmp_path, monkeypatch):
    """``retrieval_eval.py``'s model with seeded random weights, saved at
    ``tmp_path / 'm.pth'`` and loaded by ``init_model``, the working
    directory the demo corpus's."""
    save_random_model(RETRIEVAL_CONFIG, demo_corpus, tmp_path / 'm.pth', 0)
    monkeypatch.chdir(demo_corpus)
    return init_model(RETRIEVAL_CONFIG, tmp_path / 'm.pth')
