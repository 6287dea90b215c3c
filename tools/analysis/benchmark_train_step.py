"""Speed of one training step (forward + backward + optimiser) of a config.

Usage:
  python tools/analysis/benchmark_train_step.py CONFIG [--batch-size B]
      [--amp] [--compile [MODE]] [--count-ops] [--iters N] [--warmup W]
      [--peak-tflops P] [--cfg-options ...]

Random weights and a random batch of the config's shapes (no files read:
``build_random_model``), stepped as the Runner steps it: ``model.train_step``
(the data preprocessor on the device: normalisation, tokenisation and, for
ALPRO stage 2, MLM masks and PEM regions; forward; backward; the config's
optimiser and optim wrapper; ``--amp``: bf16 autocast, as
``tools/train.py --amp``; ``--compile``: the model's ``loss`` compiled, as
``tools/train.py --compile``, its compile time reported apart). Prints
samples/s, seconds per step, peak memory and, with ``--peak-tflops``, the
model FLOPs utilisation (MFU): FLOPs of one step (counted by
``torch.utils.flop_counter`` over forward and backward, eager) x steps/s /
peak. On CUDA it also lists the host syncs of one step (torch's sync
debug mode); ``--count-ops`` counts the aten operators of one eager step
(a proxy for the kernel launches a host must issue; with ``--amp`` on the
CPU, bf16 autocast runs there too, so its casts are counted).
"""
import argparse
import copy
import time
import warnings
from collections import Counter
from typing import Dict, List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from alpro.engine.hooks.compile_hook import compile_method
from alpro.utils.cli import use_bf16
from alpro.utils.synthetic_inputs import build_random_model, synthetic_batch


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast (CUDA)')
    parser.add_argument(
        '--compile',
        nargs='?',
        const='default',
        metavar='MODE',
        help='torch.compile the loss (CompileHook); MODE as torch.compile')
    parser.add_argument(
        '--count-ops',
        action='store_true',
        help='count the aten operators of one eager step (all, matrix '
        'products, dtype casts, attention)')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--peak-tflops',
        type=float,
        help='the device peak, for MFU (H100 bf16: ~989 '
        'dense spec, 773 measured)')
    parser.add_argument('--device', default=None)
    parser.add_argument(
        '--profile',
        metavar='FILE',
        help='also profile 3 steps (torch.profiler) and write the top ops')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def optim_wrapper_cfg(cfg: Config, amp: bool) -> dict:
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    wrapper.pop('accumulative_counts', None)
    if amp:
        # CPU too with SyncFreeOptimWrapper (bf16 autocast on the CPU: for
        # --count-ops; MMEngine's AmpOptimWrapper refuses the CPU)
        use_bf16(wrapper)
    return wrapper


def step_flops(model, batch: dict) -> int:
    """FLOPs of one forward + backward (2 per multiply-add)."""
    inputs = model.data_preprocessor(batch, True)['inputs']
    counter = FlopCounterMode(display=False)
    with counter:
        losses = model(inputs, mode='loss')
        model.parse_losses(losses)[0].backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


class OpCounter(TorchDispatchMode):
    """Counts the aten operators run inside it, by name (forward and
    backward; in eager mode each is at least one kernel launch on a
    GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def count_ops(step) -> Dict[str, int]:
    """The aten operators of one eager step: all, matrix products, dtype
    casts (autocast's among them) and attention calls."""
    with OpCounter() as counter:
        step()
    ops = counter.counts
    return dict(
        total=sum(ops.values()),
        matmuls=sum(ops[name] for name in ('mm', 'addmm', 'bmm', 'baddbmm')),
        casts=ops['_to_copy'],
        attention=sum(n for name, n in ops.items()
                      if 'scaled_dot_product' in name))


def host_syncs(step) -> List[str]:
    """Where one step makes the host wait for the GPU: the places
    (``file:line``) of the synchronising CUDA calls torch's sync debug mode
    reports, one entry per call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return [
        f'{w.filename}:{w.lineno}' for w in caught
        if 'synchronizing' in str(w.message)
    ]


def write_profile(step, path: str, cuda: bool) -> None:
    """Profile three steps; write the ops that take the most time."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if cuda:
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(3):
            step()
        if cuda:
            torch.cuda.synchronize()
    key = 'cuda_time_total' if cuda else 'cpu_time_total'
    with open(path, 'w') as f:
        f.write(prof.key_averages().table(sort_by=key, row_limit=25))


def benchmark(cfg: Config,
              batch_size: int,
              amp: bool,
              iters: int,
              warmup: int,
              device: str,
              profile_path: Optional[str] = None,
              compile_mode: Optional[str] = None,
              ops: bool = False) -> dict:
    model = build_random_model(cfg, device)
    batch = synthetic_batch(cfg, batch_size)
    optim_wrapper = build_optim_wrapper(model, optim_wrapper_cfg(cfg, amp))
    flops = step_flops(model, batch)
    cuda = device.startswith('cuda')

    def step():
        model.train_step(batch, optim_wrapper)

    op_counts = None
    if ops:  # eager (compiled kernels bypass the dispatcher), after a step
        step()  # that creates the optimiser's state
        op_counts = count_ops(step)
    compile_seconds = 0.0
    if compile_mode:
        compile_method(model, 'loss', mode=compile_mode)
        start = time.perf_counter()
        step()  # compiles
        if cuda:
            torch.cuda.synchronize()
        compile_seconds = time.perf_counter() - start
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / iters
    syncs = host_syncs(step) if cuda else []
    if profile_path:
        write_profile(step, profile_path, cuda)
    return dict(
        seconds_per_step=seconds,
        samples_per_s=batch_size / seconds,
        compile_seconds=compile_seconds,
        host_syncs=syncs,
        op_counts=op_counts,
        tflop_per_step=flops / 1e12,
        achieved_tflops=flops / seconds / 1e12,
        peak_memory_gib=(torch.cuda.max_memory_allocated() /
                         2**30 if cuda else float('nan')),
        trainable_params=sum(p.numel() for p in model.parameters()
                             if p.requires_grad))


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    result = benchmark(cfg, args.batch_size, args.amp, args.iters, args.warmup,
                       device, args.profile, args.compile, args.count_ops)
    compiled = (
        f' compiled ({args.compile}, {result["compile_seconds"]:.0f} s '
        'to compile)' if args.compile else '')
    line = (f"{args.config} on {device}, batch {args.batch_size}, "
            f"{'bf16' if args.amp else 'fp32'}{compiled}: "
            f"{result['samples_per_s']:.1f} samples/s, "
            f"{result['seconds_per_step']*1000:.1f} ms/step, "
            f"{result['tflop_per_step'] * 1000:.4g} GFLOP/step "
            f"({result['achieved_tflops']:.1f} TFLOP/s), "
            f"peak memory {result['peak_memory_gib']:.2f} GiB")
    if args.peak_tflops:
        result['mfu'] = result['achieved_tflops'] / args.peak_tflops
        line += f", MFU {100 * result['mfu']:.1f}%"
    if result['op_counts']:
        print('aten ops in one eager step: ' +
              ', '.join(f'{name} {n}'
                        for name, n in result['op_counts'].items()))
    if device.startswith('cuda'):
        syncs = result['host_syncs']
        print(f'host syncs in one step: {len(syncs)}' +
              ''.join(f'\n  {place}' for place in sorted(set(syncs))))
    print(line)
    return result


if __name__ == '__main__':
    main()
