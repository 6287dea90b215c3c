"""tools/train.py on shards packed from the demo corpus, iteration-based with
nominal epochs: a run stopped mid-epoch and resumed with ``--resume`` ends
with the weights of one that never stopped."""
import sys
from pathlib import Path

import pytest
import torch

from tests.tool_runs import run_tool

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/demo/pretrain_prompter.py'


def weights(path: Path) -> dict:
    return torch.load(
        path, map_location='cpu', weights_only=True)['state_dict']


def write_config(path: Path, shards: Path) -> Path:
    """The demo prompter on ``shards``: batches of 4, 2 persistent workers,
    20 samples per nominal epoch (3 batches per worker: 6 per epoch), a
    checkpoint every 2 iterations, no validation, a constant learning
    rate."""
    urls = sorted(str(p) for p in shards.glob('*.tar'))
    path.write_text(f"""_base_ = [{str(CONFIG)!r}]
train_dataloader = dict(
    batch_size=4,
    sampler=None,
    dataset=dict(
        _delete_=True,
        type='VideoTextShardDataset',
        shards={urls!r},
        pipeline={{{{_base_.train_pipeline}}}},
        seed=0,
        shuffle_buffer=8,
        epoch_length=20))
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=8, val_interval=100)
param_scheduler = []
val_cfg = None
val_dataloader = None
val_evaluator = None
log_processor = dict(by_epoch=False)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    logger=dict(interval=1))
custom_hooks = [dict(type='ShardEpochHook')]
""")
    return path


def test_train_tool_resumes_a_shard_run_exactly(demo_corpus, tmp_path):
    shards = tmp_path / 'shards'
    run_tool([
        sys.executable,
        str(REPO / 'tools/data/pack_shards.py'),
        str(shards), '--config',
        str(CONFIG), '--max-samples-per-shard', '5'
    ], demo_corpus)
    config = write_config(tmp_path / 'shards.py', shards)

    def train(work_dir: Path, *args: str) -> str:
        return run_tool([
            sys.executable,
            str(REPO / 'tools/train.py'),
            str(config), '--work-dir',
            str(work_dir), *args
        ], demo_corpus)

    whole, split = tmp_path / 'whole', tmp_path / 'split'
    output = train(whole)
    assert 'nominal epoch 0 done after 6 batches' in output
    # stopped after 3 iterations, in the middle of epoch 0 (the next batch
    # from the second worker)
    train(split, '--cfg-options', 'train_cfg.max_iters=3')
    first = weights(split / 'iter_3.pth')  # max_keep_ckpts drops it later
    output = train(split, '--resume')
    assert 'ShardEpochHook: resuming epoch 0 after 3 of its batches' in output
    one_go, resumed = weights(whole / 'iter_8.pth'), weights(split /
                                                             'iter_8.pth')
    differ = [k for k in one_go if not torch.equal(one_go[k], resumed[k])]
    assert not differ, f'{len(differ)} of {len(one_go)} tensors differ'
    assert any(not torch.equal(first[k], one_go[k]) for k in one_go)
