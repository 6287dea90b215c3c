"""Every config parses; the paper's configs name their missing files."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from alpro.registry import MODELS
from alpro.utils.synthetic_inputs import BERT_BASE_UNCASED

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


def test_prompter_config_names_missing_tokenizer_and_weights(
        tokenizer_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no data/pretrained here
    cfg = Config.fromfile(REPO / 'configs/alpro/pretrain_prompter_webvid.py')
    with DefaultScope.overwrite_default_scope('alpro'):
        with pytest.raises(
                FileNotFoundError, match='data/pretrained/bert-base-uncased'):
            MODELS.build(cfg.model)
        cfg.model.data_preprocessor.tokenizer.path = str(tokenizer_dir)
        with pytest.raises(
                FileNotFoundError, match='bert-base-uncased.*save_pretrained'):
            MODELS.build(cfg.model)
        cfg.model.text_encoder.pretrained = None
        cfg.model.text_encoder.config = dict(
            BERT_BASE_UNCASED, num_hidden_layers=6)
        cfg.model.backbone.arch = 'tiny'
        model = MODELS.build(cfg.model)
        with pytest.raises(
                FileNotFoundError, match='vit_base_patch16_224.safetensors'):
            model.init_weights()
