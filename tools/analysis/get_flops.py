"""FLOPs per sample of a model's training forward, counted by fvcore.

Usage: python tools/analysis/get_flops.py CONFIG [--batch-size B]
           [--cfg-options k=v ...]

The model is built from the config with random weights (no checkpoint,
tokenizer or data of the config's is read: ``build_random_model``) and run
in ``mode='loss'`` on a random batch of the config's shapes, through its
data preprocessor.
fvcore counts one multiply-add as one "flop"; the line printed gives those
GMACs and GFLOPs = 2 x GMACs. Attention through
``scaled_dot_product_attention``, which fvcore does not know, is counted by
the handle below.
"""
import argparse
from typing import Any, List

import torch
from fvcore.nn import FlopCountAnalysis
from mmengine.config import Config, DictAction
from torch import nn

from alpro.utils.synthetic_inputs import build_random_model, synthetic_batch


class TrainForward(nn.Module):
    """``model(inputs, mode='loss')`` summed, as a traceable module over the
    tensors of ``inputs`` in ``keys`` order."""

    def __init__(self, model: nn.Module, keys: List[str]) -> None:
        super().__init__()
        self.model = model
        self.keys = keys

    def forward(self, *tensors) -> torch.Tensor:
        losses = self.model(dict(zip(self.keys, tensors)), mode='loss')
        return sum(v for k, v in losses.items() if 'loss' in k)


def sdpa_macs(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``softmax(q k^T) v``: ``B H Lq Lk (D + Dv)``."""
    query, key, value = (i.type().sizes() for i in inputs[:3])
    *batch, length_q, dim = query
    length_k, dim_v = key[-2], value[-1]
    count = 1
    for size in batch:
        count *= size
    return count * length_q * length_k * (dim + dim_v)


def count_flops(cfg: Config, batch_size: int = 1) -> dict:
    """GMACs and GFLOPs per sample of the training forward."""
    model = build_random_model(cfg)
    # batch 2 at least: VTM draws its hard negatives among the others
    batch = max(batch_size, 2)
    inputs = model.data_preprocessor(synthetic_batch(cfg, batch),
                                     True)['inputs']
    keys = sorted(inputs)
    analysis = FlopCountAnalysis(
        TrainForward(model, keys), tuple(inputs[k] for k in keys))
    analysis.set_op_handle('aten::scaled_dot_product_attention', sdpa_macs)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    macs = analysis.total() / batch
    return dict(
        gmacs=macs / 1e9,
        gflops=2 * macs / 1e9,
        unsupported=dict(analysis.unsupported_ops()))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    result = count_flops(cfg, args.batch_size)
    print(f"{args.config}: {result['gflops']:.4g} GFLOPs per sample "
          f"({result['gmacs']:.4g} GMACs, fvcore's 'flops') of the training "
          'forward')
    if result['unsupported']:
        print('  not counted (elementwise ops, small): ' +
              ', '.join(f'{k} x{v}'
                        for k, v in sorted(result['unsupported'].items())))
    return result


if __name__ == '__main__':
    main()
