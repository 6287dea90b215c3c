# ALPRO stage 1 at toy size on the demo corpus: a tiny TimeSformer and a
# 2-layer BERT trained with VTC on 2 CPU cores in a few minutes; validation is
# zero-shot retrieval on the 240 held-out clips (chance R@1 is 1/240 = 0.42%).
#   python tools/data/make_demo_data.py --out data/demo
#   python tools/train.py configs/demo/pretrain_prompter.py
_base_ = [
    '../_base_/models/demo_prompter.py',
    '../_base_/datasets/demo_webvid.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
# The order-aware objective (not in ALPRO): each clip played backwards is one
# more negative of its caption, and each caption with its direction words
# swapped one more negative of its clip, so that both encoders must tell the
# direction of motion apart (docs/benchmarks.md: without it a linear probe
# finds the direction in the video [CLS] near chance, 17.5% of 8 directions
# after the same 30 epochs; 38.7% with it)
model = dict(order_negatives=dict(swap_words={{_base_.direction_word_pairs}}))
max_epochs = 30
# ALPRO's optimiser (../_base_/schedules), at a toy model's learning rate;
# the temporal parameters faster (not in ALPRO): the prompter learns the
# direction of time in a sudden drop of its loss, and at one learning rate
# for all parameters whether that drop comes within 30 epochs depends on the
# random stream (zero-shot t2v R@1 5.4 / 18.3 / 12.5 over seeds 0 / 1 / 2;
# with these multipliers 15.8 / 15.4 / 15.0; docs/benchmarks.md)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(
        custom_keys=dict(
            time_embed=dict(lr_mult=10.0), temporal=dict(lr_mult=3.0))))
# a warm-up of one epoch from 1e-2 of the learning rate
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-2, end=1),
    dict(_base_.param_scheduler[1], begin=1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=4))
