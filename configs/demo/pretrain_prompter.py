# ALPRO stage 1 at toy size on the demo corpus: a tiny TimeSformer and a
# 2-layer BERT trained with VTC on 2 CPU cores in a few minutes; validation is
# zero-shot retrieval on held-out colour-shape pairs (48 clips: chance R@1 is
# 1/48 = 2.1%).
#   python tools/data/make_demo_data.py --out data/demo
#   python tools/train.py configs/demo/pretrain_prompter.py
_base_ = [
    '../_base_/models/demo_prompter.py',
    '../_base_/datasets/demo_webvid.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
max_epochs = 12
# ALPRO's optimiser (../_base_/schedules), at a toy model's learning rate
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=4))
