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


@pytest.mark.parametrize('files, shards', [
    ('configs/demo/pretrain_prompter.py',
     'configs/demo/pretrain_prompter_shards.py'),
    ('configs/alpro/pretrain_webvid.py',
     'configs/alpro/pretrain_webvid_shards.py'),
])
def test_shard_config_trains_the_file_config_model(files, shards):
    """A shard config changes the data source and the loop only: the same
    model, optimiser and transforms, as many nominal epochs as the file
    config's epochs, and the file config's learning-rate schedule in
    iterations."""
    files, shards = Config.fromfile(REPO / files), Config.fromfile(REPO /
                                                                   shards)
    assert shards.model == files.model
    assert shards.optim_wrapper == files.optim_wrapper
    assert shards.test_dataloader == files.test_dataloader
    loader = shards.train_dataloader
    assert loader.sampler is None
    assert loader.dataset.type == 'VideoTextShardDataset'
    # the file config's transforms, one pipeline per media kind
    file_sets = files.train_dataloader.dataset.get(
        'datasets', [files.train_dataloader.dataset])
    assert loader.dataset.pipeline == file_sets[0].pipeline
    if len(file_sets) > 1:
        assert loader.dataset.image_pipeline == file_sets[1].pipeline
    per_epoch = shards.iters_per_epoch
    assert shards.train_cfg.max_iters == files.train_cfg.max_epochs * per_epoch
    assert {'type': 'ShardEpochHook'} in shards.custom_hooks
    for ours, theirs in zip(shards.param_scheduler, files.param_scheduler):
        assert ours.by_epoch is False
        assert ours.get('start_factor') == theirs.get('start_factor')
        assert ours.get('end_factor', 1.0) == theirs.get('end_factor', 1.0)
        assert ours.begin == round(theirs.begin * per_epoch)
        assert ours.end == round(theirs.end * per_epoch)
