"""What the end-to-end and multi-process tests share: running a tool in a
subprocess as a user does, a free TCP port for a rendezvous, a set of gloo
worker processes, and a random-weight checkpoint for a tool to load."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tool_env(**extra: str) -> dict:
    """The environment of a tool run: this checkout importable (``alpro``,
    and the ``tests`` package whose toy modules configs import through
    ``custom_imports``), safe checkpoint loading forced, no plugin
    autoload, one thread per process; for the shell launchers
    (``tools/dist_*.sh``) this interpreter as ``PYTHON`` and a free
    rendezvous ``PORT``. ``extra`` adds or overrides variables."""
    variables = dict(os.environ)
    variables.update(
        PYTHONPATH=str(REPO),
        TORCH_FORCE_WEIGHTS_ONLY_LOAD='1',
        ALPRO_DISABLE_PLUGIN_AUTOLOAD='1',
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PORT=str(free_port()))
    variables.update(extra)
    return variables


def run_tool(cmd, cwd, timeout: int = 900, **extra: str) -> str:
    """Run ``cmd`` in ``cwd``; assert it succeeds and return its stdout
    and stderr."""
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env=tool_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def _gloo_process(rank: int, worker: Callable[[int, str], None], port: int,
                  world_size: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size)
    try:
        worker(rank, out_dir)
    finally:
        dist.destroy_process_group()


def run_gloo_workers(worker: Callable[[int, str], None],
                     out_dir: Path,
                     world_size: int = 2,
                     timeout: float = 120) -> List[dict]:
    """Run ``worker(rank, out_dir)`` in ``world_size`` processes, each in
    a gloo process group of them all, one thread each; each saves its
    results to ``out_dir / f'rank{rank}.pt'``. Returns them in rank order.
    A worker's exception is raised here with its traceback; workers still
    running after ``timeout`` seconds are killed and the test fails."""
    context = mp.spawn(
        _gloo_process,
        args=(worker, free_port(), world_size, str(out_dir)),
        nprocs=world_size,
        join=False)
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f'the {world_size} gloo workers did not finish in '
                        f'{timeout:g} s')
    return [
        torch.load(out_dir / f'rank{rank}.pt', weights_only=True)
        for rank in range(world_size)
    ]


def save_random_model(config: Path, cwd: Path, path: Path,
                      seed: int) -> torch.nn.Module:
    """Build ``config``'s model in ``cwd`` (where its relative paths
    resolve) with seeded random weights, save it at ``path`` as an MMEngine
    checkpoint, and return it."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from alpro.registry import MODELS
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        cfg = Config.fromfile(config)
        with DefaultScope.overwrite_default_scope('alpro'):
            torch.manual_seed(seed)
            model = MODELS.build(cfg.model)
            model.init_weights()
    finally:
        os.chdir(old_cwd)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model
