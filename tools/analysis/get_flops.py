"""FLOPs per sample of a model's training forward, counted by fvcore.

Usage: python tools/analysis/get_flops.py CONFIG [--batch-size B]
           [--cfg-options k=v ...]

The model is built from the config with random weights (no checkpoint,
tokenizer or data is read: ``random_weights_model_cfg``) and run in
``mode='loss'`` on random inputs of the config's shapes. fvcore counts one
multiply-add as one "flop"; the line printed gives those GMACs and
GFLOPs = 2 x GMACs. Attention through
``scaled_dot_product_attention``, which fvcore does not know, is counted by
the handle below.
"""
import argparse
from typing import Any, List

import torch
from fvcore.nn import FlopCountAnalysis
from mmengine.config import Config, DictAction
from torch import nn

from alpro.registry import MODELS
from alpro.utils import register_all_modules
from alpro.utils.synthetic_inputs import (random_weights_model_cfg,
                                          synthetic_inputs)


class TrainForward(nn.Module):
    """``model(inputs, mode='loss')`` summed, as a traceable module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, video, text_ids, text_mask) -> torch.Tensor:
        losses = self.model(
            dict(video=video, text_ids=text_ids, text_mask=text_mask),
            mode='loss')
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
    register_all_modules()
    model = MODELS.build(random_weights_model_cfg(cfg))
    model.train()
    vocab_size = model.text_encoder.bert.config.vocab_size
    inputs = synthetic_inputs(cfg, batch_size, vocab_size)
    analysis = FlopCountAnalysis(
        TrainForward(model),
        (inputs['video'], inputs['text_ids'], inputs['text_mask']))
    analysis.set_op_handle('aten::scaled_dot_product_attention', sdpa_macs)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    macs = analysis.total() / batch_size
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
