"""SyncFreeRuntimeInfoHook: the message hub gets the history MMEngine's
RuntimeInfoHook writes, read from the device once per logging interval."""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook, RuntimeInfoHook
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


def toy_runner(work_dir: Path, runtime_info: str, log_interval: int,
               **cfg_options) -> Runner:
    register_all_modules()
    cfg = Config.fromfile(str(TOY_CONFIG))
    cfg.work_dir = str(work_dir)
    # its own message hub: MMEngine names it by config and start second
    cfg.experiment_name = (
        f'{runtime_info}_{work_dir.parent.name}_{work_dir.name}')
    # and its own visualiser, which writes the logged scalars to its log_dir
    cfg.visualizer.name = cfg.experiment_name
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.runtime_info = dict(type=runtime_info)
    cfg.default_hooks.logger.interval = log_interval
    cfg.merge_from_dict(cfg_options)
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


class GradNormProbe(Hook):
    """Measures each step's gradient norm from the gradients themselves,
    and what the message hub holds as the norm after each iteration's
    hooks."""

    priority = 'LOWEST'  # after the runtime-info and logger hooks

    def __init__(self) -> None:
        self.norms = []  # per step, measured
        self.hub_current = []  # per step, the message hub's latest norm
        self._squares = []

    def before_train(self, runner) -> None:
        for param in runner.model.parameters():
            if param.requires_grad:
                param.register_post_accumulate_grad_hook(self._measure)

    def _measure(self, param) -> None:
        self._squares.append(param.grad.detach().double().pow(2).sum())

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        self.norms.append(float(torch.stack(self._squares).sum().sqrt()))
        self._squares = []
        buffer = runner.message_hub.log_scalars.get('train/grad_norm')
        self.hub_current.append(None if buffer is None else buffer.current())


def test_logged_grad_norm_is_that_of_the_logged_step(in_demo_corpus, tmp_path):
    runner = toy_runner(
        tmp_path,
        'SyncFreeRuntimeInfoHook',
        log_interval=3,
        optim_wrapper=dict(
            type='SyncFreeOptimWrapper', clip_grad=dict(max_norm=1.0)),
        # the logged norm: the step's, and the mean over the window
        log_processor=dict(custom_cfg=[
            dict(
                data_src='grad_norm',
                log_name='grad_norm_now',
                method_name='current')
        ]))
    probe = GradNormProbe()
    runner.register_hook(probe)
    runner.train()
    # 5 iterations an epoch, logged at the 3rd (LoggerHook ignores the
    # epoch's last), read by the hook at the 3rd and 5th
    norms = probe.norms
    assert len(norms) == 10
    assert len(set(norms)) == 10  # a stale norm could not pass for another

    # one norm per step in the history, as MMEngine's OptimWrapper writes
    values, _ = runner.message_hub.log_scalars['train/grad_norm'].data
    torch.testing.assert_close(
        torch.as_tensor(values),
        torch.tensor(norms, dtype=torch.float64),
        rtol=1e-5,
        atol=0)

    # at each step the message hub is read, its latest norm is that step's
    log = Path(runner.log_dir) / 'vis_data' / f'{runner.timestamp}.json'
    logged = [
        entry for entry in map(json.loads,
                               log.read_text().splitlines())
        if 'grad_norm' in entry
    ]
    steps = [entry['step'] for entry in logged]
    assert steps == [3, 8]
    for step in (3, 5, 8, 10):
        assert probe.hub_current[step - 1] == pytest.approx(
            norms[step - 1], rel=1e-5)
    window = runner.log_processor.window_size
    for entry in logged:
        step = entry['step']
        assert entry['grad_norm_now'] == pytest.approx(
            norms[step - 1], rel=1e-5)
        # the default: the mean over the window, as for the loss
        assert entry['grad_norm'] == pytest.approx(
            sum(norms[max(0, step - window):step]) /
            len(norms[max(0, step - window):step]),
            rel=1e-4)
