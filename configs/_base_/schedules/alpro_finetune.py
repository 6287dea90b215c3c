# ALPRO's fine-tuning schedule (the release's config_release/*.json): the
# optimiser and schedule of pre-training (./alpro_pretrain_10e.py: AdamW,
# betas (0.9, 0.98), weight decay 1e-3, gradient norm clipped at 20; linear
# warm-up from 1e-3 of the learning rate, then linear decay to 0) at each
# config's own learning rate, with the warm-up over the first 10% of the
# epochs; 10 epochs, validation after each.
# MMEngine runs a base file before the config that inherits it: the bounds of
# a base's param_scheduler are numbers computed from the base's max_epochs,
# and a config that only set max_epochs would keep them. So a config with
# other epochs states them once and takes the bounds from them, as this file
# does from its base's schedule (`_base_.param_scheduler`: warm-up, decay):
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
    dict(_base_.param_scheduler[0], end=0.1 * max_epochs),
    dict(_base_.param_scheduler[1], begin=0.1 * max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
