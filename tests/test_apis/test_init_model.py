"""init_model: a checkpoint that fits loads exactly; one that does not is
refused, naming its tensors; a released ALPRO checkpoint names the
converter."""
import os
from pathlib import Path

import pytest
import torch

from alpro.apis import CheckpointMismatchError, init_model
from alpro.utils import CheckpointShapeError
from tests.tool_runs import save_random_model

CONFIG = Path(__file__).parents[1] / 'data/configs/retrieval_eval.py'


@pytest.fixture
def in_corpus(demo_corpus):
    old = os.getcwd()
    os.chdir(demo_corpus)
    yield demo_corpus
    os.chdir(old)


def _equal(model, reference) -> bool:
    ours, theirs = model.state_dict(), reference.state_dict()
    return ours.keys() == theirs.keys() and all(
        torch.equal(ours[key], theirs[key]) for key in ours)


def test_checkpoint_loads_exactly_in_eval_mode(in_corpus, tmp_path):
    reference = save_random_model(CONFIG, in_corpus, tmp_path / 'm.pth', 0)
    model = init_model(CONFIG, tmp_path / 'm.pth')
    assert not model.training
    assert model.cfg.model.type == 'AlproRetrieval'
    assert _equal(model, reference)
    # a plain state dict (a converter's output) loads too
    torch.save(reference.state_dict(), tmp_path / 'plain.pth')
    assert _equal(init_model(CONFIG, tmp_path / 'plain.pth'), reference)


def test_missing_and_unexpected_tensors_are_named(in_corpus, tmp_path):
    state = save_random_model(CONFIG, in_corpus, tmp_path / 'm.pth',
                              0).state_dict()
    del state['vtm_head.fc.weight']
    state['extra.weight'] = torch.zeros(2)
    torch.save({'state_dict': state}, tmp_path / 'bad.pth')
    with pytest.raises(CheckpointMismatchError) as error:
        init_model(CONFIG, tmp_path / 'bad.pth')
    message = str(error.value)
    assert '1 tensor(s) missing from the checkpoint: vtm_head.fc.weight' in (
        message)
    assert '1 tensor(s) not in the model: extra.weight' in message


def test_shape_mismatch_is_refused(in_corpus, tmp_path):
    state = save_random_model(CONFIG, in_corpus, tmp_path / 'm.pth',
                              0).state_dict()
    state['vision_proj.weight'] = torch.zeros(3, 3)
    torch.save({'state_dict': state}, tmp_path / 'bad.pth')
    with pytest.raises(CheckpointShapeError, match='vision_proj.weight'):
        init_model(CONFIG, tmp_path / 'bad.pth')


def test_released_checkpoint_names_the_converter(in_corpus, tmp_path):
    state = save_random_model(CONFIG, in_corpus, tmp_path / 'm.pth',
                              0).state_dict()
    state = {
        key.replace('backbone.', 'visual_encoder.model.'): value
        for key, value in state.items()
    }
    torch.save(state, tmp_path / 'alpro_ret.pt')
    with pytest.raises(
            CheckpointMismatchError, match='alpro_official_to_alpro.py'):
        init_model(CONFIG, tmp_path / 'alpro_ret.pt')


def test_no_checkpoint_gives_random_weights(in_corpus):
    model = init_model(CONFIG)
    assert model.cfg.filename == str(CONFIG)
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        init_model(CONFIG, in_corpus / 'nothing.pth')
