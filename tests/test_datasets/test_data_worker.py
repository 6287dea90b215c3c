"""init_data_worker: the threads of each data-loader worker, set by the
loader's config."""
import glob
import os

import pytest
import torch
from mmengine.runner import Runner
from torch.utils.data import Dataset

from alpro.datasets.data_worker import get_decoder_threads, init_data_worker
from alpro.datasets.transforms import DecordInit
from alpro.utils import register_all_modules


def thread_count() -> int:
    return len(glob.glob(f'/proc/{os.getpid()}/task/*'))


class ThreadProbe(Dataset):
    """One sample: the worker's torch threads, its decoder setting, and the
    threads a video reader opened with DecordInit's default adds."""

    def __init__(self, video: str) -> None:
        self.video = video

    def __len__(self) -> int:
        return 1

    def __getitem__(self, idx: int) -> dict:
        before = thread_count()
        results = DecordInit()(dict(video_path=self.video))
        added = thread_count() - before
        del results
        return dict(
            intra_op=torch.get_num_threads(),
            decoder=get_decoder_threads(),
            reader_threads=added)


def probe(video, start_method: str = 'fork', **worker_init) -> dict:
    """What a worker started with ``start_method`` and ``worker_init`` has.
    """
    register_all_modules()
    loader = Runner.build_dataloader(
        dict(
            dataset=ThreadProbe(str(video)),
            batch_size=1,
            num_workers=1,
            multiprocessing_context=start_method,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            worker_init_fn=dict(type='init_data_worker', **worker_init)))
    return {key: int(value) for key, value in next(iter(loader)).items()}


@pytest.mark.skipif(
    not os.path.isdir('/proc/self/task'), reason='counts threads in /proc')
def test_worker_threads_follow_the_config(video_factory):
    video = video_factory(num_frames=8)
    default = probe(video)
    assert default == dict(
        intra_op=1, decoder=1, reader_threads=default['reader_threads'])
    more = probe(video, decoder_threads=4)
    assert more['intra_op'] == 1 and more['decoder'] == 4
    # DecordInit without num_threads opens readers with the worker's number
    assert more['reader_threads'] > default['reader_threads']
    # outside a worker: one decoder thread
    assert get_decoder_threads() == 1


@pytest.mark.slow
def test_more_intra_op_threads_only_in_workers_not_forked(video_factory):
    video = video_factory(num_frames=8)
    torch.ones(64, 64) @ torch.ones(64, 64)  # this process uses OpenMP
    assert probe(video, 'spawn', intra_op_threads=2)['intra_op'] == 2
    # a forked worker would hang in its first parallel op: refused
    with pytest.raises(RuntimeError, match="'spawn' or 'forkserver'"):
        probe(video, 'fork', intra_op_threads=2)


def test_bad_thread_counts_are_refused():
    with pytest.raises(ValueError, match='intra_op_threads'):
        init_data_worker(0, intra_op_threads=0)
