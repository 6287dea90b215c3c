# ALPRO stage 1: pre-train the prompter on WebVid-2M + CC-3M with VTC.
#   python tools/train.py configs/alpro/pretrain_prompter_webvid.py
#   bash tools/dist_train.sh configs/alpro/pretrain_prompter_webvid.py 8
# Paper setting: 16 videos per GPU on 16 GPUs, 4 frames at 224 px, 10 epochs;
# ALPRO's release also accumulated gradients over 2 steps.
_base_ = [
    '../_base_/models/alpro_prompter.py',
    '../_base_/datasets/webvid_cc3m_pretrain.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
optim_wrapper = dict(accumulative_counts=2)
randomness = dict(seed=42)
