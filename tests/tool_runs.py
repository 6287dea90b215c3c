"""What the end-to-end tests share: running a tool in a subprocess as a
user does, and a free TCP port for torchrun's rendezvous."""
import os
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tool_env(**extra: str) -> dict:
    """The environment of a tool run: this checkout (and the tests' toy
    modules) importable, safe checkpoint loading forced, no plugin
    autoload, one thread per process."""
    variables = dict(os.environ)
    variables.update(
        PYTHONPATH=os.pathsep.join([str(REPO / 'tests'),
                                    str(REPO)]),
        TORCH_FORCE_WEIGHTS_ONLY_LOAD='1',
        ALPRO_DISABLE_PLUGIN_AUTOLOAD='1',
        OMP_NUM_THREADS='1',
        **extra)
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
