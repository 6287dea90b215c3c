"""Every config parses; the paper's configs name their missing files."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from alpro.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in
    [*REPO.glob('configs/**/*.py'), *REPO.glob('plugins/*/configs/*.py')])


@pytest.mark.parametrize('path', CONFIGS)
def test_config_parses(path):
    cfg = Config.fromfile(REPO / path)
    if 'model' in cfg and '_base_' not in Path(path).parts:
        # a runnable config: the Runner must build in alpro's scope
        assert cfg.default_scope == 'alpro'
        assert cfg.train_dataloader.dataset.type


def test_prompter_config_builds_from_no_file_and_names_missing_ones(
        tokenizer_dir, monkeypatch, tmp_path):
    """Building reads no file; the weights are read in init_weights() and
    the tokenizer at its first use, each missing one named with its path
    and how to produce it."""
    monkeypatch.chdir(tmp_path)  # no data/pretrained here
    cfg = Config.fromfile(REPO / 'configs/alpro/pretrain_prompter_webvid.py')
    cfg.model.backbone.arch = 'tiny'
    with DefaultScope.overwrite_default_scope('alpro'):
        model = MODELS.build(cfg.model)
    with pytest.raises(
            FileNotFoundError, match='data/pretrained/bert-base-uncased'):
        model.data_preprocessor.tokenize(['a caption'])
    with pytest.raises(
            FileNotFoundError, match='vit_base_patch16_224.safetensors'):
        model.init_weights()
    model.backbone.pretrained = None
    with pytest.raises(
            FileNotFoundError, match='bert-base-uncased.*save_pretrained'):
        model.init_weights()
