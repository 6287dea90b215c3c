# ALPRO's fine-tuning schedule (the release's config_release/*.json): the
# optimiser of pre-training (./alpro_pretrain_10e.py: AdamW, betas
# (0.9, 0.98), weight decay 1e-3, gradient norm clipped at 20) at each
# config's own learning rate, linear warm-up from 1e-3 of it over the first
# 10% of the epochs, then linear decay to 0; 10 epochs, validation after
# each.
# MMEngine runs this file before the config that inherits it: the bounds
# below are numbers computed from the max_epochs here, and a config that
# only sets max_epochs would keep them. A config with other epochs states
# them once and takes its bounds from them (`_base_.param_scheduler` is the
# list below):
#   max_epochs = 5
#   param_scheduler = [
#       dict(_base_.param_scheduler[0], end=0.1 * max_epochs),
#       dict(_base_.param_scheduler[1], begin=0.1 * max_epochs,
#            end=max_epochs),
#   ]
#   train_cfg = dict(max_epochs=max_epochs)
# (tests/test_configs/test_schedules.py checks every config's bounds).
_base_ = ['./alpro_pretrain_10e.py']

max_epochs = 10
param_scheduler = [
    # warm-up
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=0.1 * max_epochs,
        convert_to_iter_based=True),
    # decay
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=0.1 * max_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
