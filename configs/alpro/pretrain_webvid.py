# ALPRO stage 2: pre-train on WebVid-2M + CC-3M with VTC, VTM, MLM and PEM.
#   python tools/train.py configs/alpro/pretrain_webvid.py [--amp]
#   bash tools/dist_train.sh configs/alpro/pretrain_webvid.py 8 --amp
# Needs the stage-1 prompter and the entity vocabulary (see
# ../_base_/models/alpro_pretrain.py for the commands that make them).
# Paper setting: 16 videos per GPU on 16 GPUs, 4 frames at 224 px, 10 epochs,
# lr 1e-4.
_base_ = [
    '../_base_/models/alpro_pretrain.py',
    '../_base_/datasets/webvid_cc3m_pretrain.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
custom_hooks = [
    dict(type='PromptCacheHook'),
    dict(type='TrainVisualizationHook', interval=500),
]
randomness = dict(seed=42)
