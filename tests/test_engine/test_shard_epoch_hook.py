"""ShardEpochHook under MMEngine's Runner with an IterBasedTrainLoop: nominal
epochs advance and reshuffle, and a run interrupted and resumed from its
checkpoint trains on exactly the batches of an uninterrupted run."""
from pathlib import Path
from typing import List, Optional

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from alpro.datasets import VideoTextShardDataset
from tests.shard_files import video2dataset_sample, write_corpus, write_tar

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=2, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]


class Recorder(BaseModel):
    """Trains nothing; keeps ``(key, frame_inds, stream)`` of each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: List[list] = []

    def forward(self,
                inputs: List[torch.Tensor],
                data_samples: Optional[list] = None,
                mode: str = 'loss') -> dict:
        self.seen.append([(s.video_id, tuple(s.frame_inds), tuple(s.stream))
                          for s in data_samples])
        return dict(loss=self.weight.sum() * 0)


@pytest.fixture(scope='module')
def shards(tmp_path_factory) -> str:
    """4 uneven shards (2, 3, 4, 5 samples) over 3 real videos."""
    root = tmp_path_factory.mktemp('hook_shards')
    write_corpus(root, 3)
    for shard, size in enumerate((2, 3, 4, 5)):
        write_tar(root / f'{shard}.tar', [
            video2dataset_sample(f's{shard}k{i}',
                                 root / f'videos/p/v{(shard + i) % 3}.mp4',
                                 f'clip {shard} {i}') for i in range(size)
        ])
    return str(root / '{0..3}.tar')


def train(shards: str,
          work_dir: Path,
          max_iters: int,
          name: str,
          resume: bool = False,
          epoch_length: int = 9,
          persistent: bool = True,
          drop_last: bool = False) -> Recorder:
    """Train ``max_iters`` with checkpoints every 4 iterations; 2 workers,
    batches of 2, 9 samples per epoch and rank: quotas 5 and 4, 3 + 2
    batches."""
    dataset = VideoTextShardDataset(
        shards,
        pipeline=PIPELINE,
        seed=5,
        shuffle_buffer=3,
        epoch_length=epoch_length)
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=2,
        persistent_workers=persistent,
        drop_last=drop_last,
        collate_fn=pseudo_collate)
    model = Recorder()
    runner = Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'shard_epoch_hook_{name}',
        train_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=4,
                            by_epoch=False)),
        custom_hooks=[
            dict(type='SafeCheckpointHook'),
            dict(type='ShardEpochHook')
        ],
        resume=resume,
        default_scope='alpro')
    runner.train()
    return model


@pytest.mark.parametrize('persistent,drop_last', [
    (True, False),
    pytest.param(False, True, marks=pytest.mark.slow),
])
def test_epochs_and_resume_through_the_runner(shards, tmp_path, persistent,
                                              drop_last):

    def run(work_dir, iters, name, resume=False):
        return train(shards, tmp_path / work_dir, iters, name, resume, 9,
                     persistent, drop_last).seen

    # quotas 5 and 4: 3 + 2 batches of 2; with drop_last 2 + 2, 8 samples
    per_epoch, samples = (4, 8) if drop_last else (5, 9)
    whole = run('whole', 12, 'whole')
    epochs = [batch[0][2][0] for batch in whole]
    assert epochs == [e for e in range(3) for _ in range(per_epoch)][:12]
    # every epoch hands out its samples, and the next one reshuffles
    assert [
        sum(len(b) for b, e in zip(whole, epochs) if e == epoch)
        for epoch in (0, 1)
    ] == [samples, samples]
    keys = [[s[0] for b in whole[i:i + per_epoch] for s in b]
            for i in (0, per_epoch)]
    assert keys[0] != keys[1]

    # interrupted after 8 iterations (in epoch 1, or at its end with
    # drop_last), then resumed
    assert run('cut', 8, 'cut') == whole[:8]
    checkpoint = torch.load(tmp_path / 'cut' / 'iter_8.pth', weights_only=True)
    position = checkpoint['shard_stream']
    expected = dict(epoch=2, batches=0, next_worker=0, handed=[[0, 0]]) \
        if drop_last else dict(
            epoch=1, batches=3, next_worker=1, handed=[[4, 2]])
    assert {key: position[key] for key in expected} == expected
    assert position['num_workers'] == 2
    assert run('cut', 12, 'resumed', resume=True) == whole[8:]


def run_on_rank(rank: int, out_dir: str) -> None:
    """A gloo rank trains uninterrupted, then interrupted and resumed;
    saves the keys of each run's batches as ints."""
    import torch.distributed as dist
    out = Path(out_dir)
    shards = (out / 'shards.txt').read_text()
    runs = {}
    for name, iters, work_dir, resume in (('whole', 12, 'whole',
                                           False), ('cut', 8, 'cut', False),
                                          ('resumed', 12, 'cut', True)):
        seen = train(shards, out / work_dir, iters, f'{name}{rank}', resume,
                     18).seen
        runs[name] = torch.tensor([[int(s[0][1:].replace('k', '0')), s[2][0]]
                                   for batch in seen for s in batch])
        runs[f'{name}_batches'] = torch.tensor([len(b) for b in seen])
        dist.barrier()  # rank 0 has written the checkpoints
    torch.save(runs, out / f'rank{rank}.pt')


@pytest.mark.slow
def test_two_gloo_ranks_make_the_same_batches_and_resume(shards, tmp_path):
    from tests.tool_runs import run_gloo_workers
    (tmp_path / 'shards.txt').write_text(shards)
    results = run_gloo_workers(run_on_rank, tmp_path, timeout=300)
    checkpoint = torch.load(tmp_path / 'cut' / 'iter_8.pth', weights_only=True)
    assert len(checkpoint['shard_stream']['raw']) == 2  # both ranks
    for rank, runs in enumerate(results):
        # 2 + 4 and 3 + 5 samples in the ranks' shards: still 9 per epoch
        assert len(runs['whole_batches']) == 12
        epochs = runs['whole'][:, 1].tolist()
        assert epochs.count(0) == epochs.count(1) == 9, rank
        assert torch.equal(runs['cut'], runs['whole'][:runs['cut'].shape[0]])
        assert torch.equal(runs['resumed'],
                           runs['whole'][runs['cut'].shape[0]:])
    assert not torch.equal(results[0]['whole'], results[1]['whole'])
