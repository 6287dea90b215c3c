"""Every config's learning-rate schedule covers its own epochs.

MMEngine computes a base config's ``param_scheduler`` from the base's
``max_epochs`` before the inheriting config runs; a config that changed only
``max_epochs`` would keep the base's bounds (configs/_base_/schedules/
alpro_finetune.py says how a config takes its bounds from its epochs)."""
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in
    [*REPO.glob('configs/**/*.py'), *REPO.glob('plugins/*/configs/*.py')])
# ALPRO's fine-tuning: warm-up over the first 10% of the epochs
FINETUNE = [
    'configs/_base_/schedules/alpro_finetune.py',
    'configs/alpro/finetune_didemo_ret.py',
    'configs/alpro/finetune_msrvtt_qa.py',
    'configs/alpro/finetune_msrvtt_ret.py',
    'configs/alpro/finetune_msvd_qa.py',
    'configs/alpro/zeroshot_msrvtt_ret.py',
]


def _schedule(path):
    cfg = Config.fromfile(REPO / path)
    if 'param_scheduler' not in cfg:
        pytest.skip(f'{path} has no param_scheduler')
    return cfg, cfg.param_scheduler


@pytest.mark.parametrize('path', CONFIGS)
def test_schedule_spans_the_epochs(path):
    """The schedulers follow each other from 0 to the end of training: in
    epochs, or in iterations for an iteration-based config (a shard stream
    over nominal epochs)."""
    cfg, schedulers = _schedule(path)
    by_epoch = 'max_iters' not in cfg.train_cfg
    end = cfg.train_cfg.max_epochs if by_epoch else cfg.train_cfg.max_iters
    if by_epoch and 'max_epochs' in cfg:  # the variable the bounds came from
        assert cfg.max_epochs == end
    assert schedulers[0].begin == 0
    for before, after in zip(schedulers, schedulers[1:]):
        assert after.begin == before.end, (before, after)
    assert schedulers[-1].end == end
    if by_epoch:
        assert all(s.by_epoch and s.convert_to_iter_based for s in schedulers)
    else:
        assert not any(s.by_epoch for s in schedulers)


@pytest.mark.parametrize('path', FINETUNE)
def test_finetune_warmup_is_a_tenth_of_the_epochs(path):
    cfg, (warmup, decay) = _schedule(path)
    assert warmup.start_factor == 1e-3
    assert warmup.end == 0.1 * cfg.train_cfg.max_epochs
    assert (decay.start_factor, decay.end_factor) == (1.0, 0.0)
