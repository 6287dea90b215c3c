"""The one switch to random weights (``init_random_weights``) and the
tokenizer read at its first use: a model builds and initialises from no
file."""
import pytest
import torch
from mmengine.model import BaseModule
from torch import nn

from alpro.models.data_preprocessors import LazyTokenizer
from alpro.utils import init_random_weights, random_weights, reads_weight_files


class WithInitCfg(BaseModule):

    def __init__(self, checkpoint: str) -> None:
        super().__init__(init_cfg=[
            dict(type='Pretrained', checkpoint=checkpoint),
            dict(type='Constant', layer='Linear', val=3.0, bias=0.0)
        ])
        self.fc = nn.Linear(2, 2)


def test_pretrained_init_cfg_is_skipped_and_restored(tmp_path):
    missing = str(tmp_path / 'missing.pth')
    model = WithInitCfg(missing)
    saved = [dict(cfg) for cfg in model.init_cfg]
    assert init_random_weights(model) is model
    # the other init_cfg entries applied, the Pretrained one not read
    assert torch.equal(model.fc.weight, torch.full((2, 2), 3.0))
    assert model.init_cfg == saved
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        WithInitCfg(missing).init_weights()


def test_the_switch_holds_inside_its_context_only():
    assert reads_weight_files()
    with random_weights():
        assert not reads_weight_files()
    assert reads_weight_files()
    with pytest.raises(RuntimeError):
        with random_weights():
            raise RuntimeError
    assert reads_weight_files()


def test_lazy_tokenizer_is_read_at_first_use_and_checked_once(
        tokenizer_dir, tmp_path):
    seen = []
    tokenizer = LazyTokenizer(str(tokenizer_dir))
    tokenizer.add_check(lambda loaded: seen.append(len(loaded)))
    assert not tokenizer.is_loaded and seen == []
    ids = tokenizer(['a circle'])['input_ids']
    assert tokenizer.is_loaded and seen == [len(tokenizer)]
    assert ids == tokenizer.loaded(['a circle'])['input_ids']
    tokenizer.add_check(lambda loaded: seen.append(-1))  # runs at once
    len(tokenizer)
    assert seen == [len(tokenizer), -1]

    def refuse(loaded):
        raise ValueError('refused')

    refused = LazyTokenizer(str(tokenizer_dir))
    refused.add_check(refuse)
    with pytest.raises(ValueError, match='refused'):
        refused.cls_token_id
    assert not refused.is_loaded
    with pytest.raises(FileNotFoundError, match='no-tokenizer'):
        len(LazyTokenizer(str(tmp_path / 'no-tokenizer')))


def test_a_relative_tokenizer_path_is_the_build_directory_s(
        tokenizer_dir, tmp_path, monkeypatch):
    """Read later, from another working directory, the tokenizer is still
    the one the path named when the model was built."""
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'tokenizer').symlink_to(tokenizer_dir)
    monkeypatch.chdir(tmp_path)
    tokenizer = LazyTokenizer('data/tokenizer')
    monkeypatch.chdir(tmp_path / 'data')
    assert len(tokenizer) > 5 and tokenizer.path == str(
        tmp_path / 'data' / 'tokenizer')
