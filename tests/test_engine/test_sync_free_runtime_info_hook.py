"""SyncFreeRuntimeInfoHook: the message hub gets the history MMEngine's
RuntimeInfoHook writes, read from the device once per logging interval."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import RuntimeInfoHook
from mmengine.runner import Runner
from torch.overrides import TorchFunctionMode

from alpro.engine.hooks import SyncFreeRuntimeInfoHook
from alpro.utils import register_all_modules

TESTS = Path(__file__).resolve().parents[1]
TOY_CONFIG = TESTS / 'data/configs/toy_train.py'
READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.cpu}


class HostReads(TorchFunctionMode):
    """Counts the device-to-host reads of tensors (``item``, ``tolist``,
    ``cpu``)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in READS
        return func(*args, **(kwargs or {}))


def toy_runner(work_dir: Path, runtime_info: str, log_interval: int) -> Runner:
    register_all_modules()
    cfg = Config.fromfile(str(TOY_CONFIG))
    cfg.work_dir = str(work_dir)
    # its own message hub: MMEngine names it by config and start second
    cfg.experiment_name = f'{runtime_info}_{work_dir.parent.name}'
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.runtime_info = dict(type=runtime_info)
    cfg.default_hooks.logger.interval = log_interval
    return Runner.from_cfg(cfg)


@pytest.fixture
def in_demo_corpus(demo_corpus, monkeypatch):
    monkeypatch.chdir(demo_corpus)


def scalar_history(runner: Runner) -> dict:
    return {
        key: buffer.data
        for key, buffer in runner.message_hub.log_scalars.items()
        # times differ between runs; the learning rate is not an output
        if key.startswith('train/') and key not in ('train/time',
                                                    'train/data_time',
                                                    'train/lr')
    }


def test_same_history_as_mmengine(in_demo_corpus, tmp_path):
    histories = []
    for hook in ('RuntimeInfoHook', 'SyncFreeRuntimeInfoHook'):
        # 5 iterations an epoch: read at the 3rd and at the epoch's end
        runner = toy_runner(tmp_path / hook, hook, log_interval=3)
        runner.train()
        histories.append(scalar_history(runner))
    mmengine, ours = histories
    iterations = 2 * len(runner.train_dataloader)
    assert iterations == 10
    assert len(ours['train/loss'][0]) == iterations
    assert mmengine.keys() == ours.keys()
    for key, (values, counts) in mmengine.items():
        torch.testing.assert_close(
            torch.as_tensor(ours[key][0]), torch.as_tensor(values), msg=key)
        assert list(ours[key][1]) == list(counts), key


def test_one_read_per_logging_interval(in_demo_corpus, tmp_path):
    runner = toy_runner(tmp_path, 'SyncFreeRuntimeInfoHook', log_interval=5)
    hook = next(
        h for h in runner.hooks if isinstance(h, SyncFreeRuntimeInfoHook))
    runner.train_loop  # builds the train dataloader the hook looks at
    hook.before_train(runner)
    hub = runner.message_hub
    reads = HostReads()
    losses = [torch.tensor(v) for v in (0.5, 0.25, 2.0, 1.5, 3.0)]
    with reads:
        for batch_idx in range(4):  # logger interval 5: not read yet
            hook.after_train_iter(
                runner,
                batch_idx,
                outputs=dict(
                    probe_loss=losses[batch_idx],
                    probe_acc=torch.tensor(batch_idx)))
    assert reads.count == 0
    assert 'train/probe_loss' not in hub.log_scalars
    with reads:
        hook.after_train_iter(
            runner,
            4,
            outputs=dict(probe_loss=losses[4], probe_acc=torch.tensor(4)))
    assert reads.count == 1  # one transfer for the 10 values
    values, _ = hub.log_scalars['train/probe_loss'].data
    assert list(values) == [0.5, 0.25, 2.0, 1.5, 3.0]
    assert list(hub.log_scalars['train/probe_acc'].data[0]) == [0, 1, 2, 3, 4]

    # MMEngine's hook reads every value at every iteration
    reads = HostReads()
    with reads:
        RuntimeInfoHook().after_train_iter(
            runner, 5, outputs=dict(loss=losses[0], acc=torch.tensor(0)))
    assert reads.count == 2
