# MSVD-QA: ALPRO fine-tuned for open-ended QA (classification over the
# 2423 training answers) from the stage-2 checkpoint
# (config_release/msvd_qa.json). Paper, test accuracy 45.9.
#   python tools/train.py configs/alpro/finetune_msvd_qa.py
#   python tools/test.py configs/alpro/finetune_msvd_qa.py \
#       work_dirs/finetune_msvd_qa/epoch_15.pth
_base_ = [
    '../_base_/models/alpro_prompter.py',
    '../_base_/datasets/msvd_qa.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
load_from = 'work_dirs/pretrain_webvid/epoch_10.pth'  # pretrain_webvid.py

# the stage-2 encoders (see ../_base_/models/alpro_pretrain.py) and a fresh
# 2-layer MLP head; the backbone keeps the 4-frame time embedding of
# pre-training, resampled to the clip's 16 frames at run time
model = dict(
    _delete_=True,
    type='AlproVideoQA',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path={{_base_.bert_dir}}),
        max_length=40),
    backbone=dict(
        type='TimeSformer',
        arch='base',
        img_size=224,
        patch_size=16,
        num_frames=4,
        drop_path_rate=0.1),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        pretrained={{_base_.bert_dir}},
        fusion_layer=6),
    # the size of data/msvd_qa/txt/train_ans2label.json
    num_answers=2423,
    qa_head=dict(type='QAHead', hidden_ratio=2))

# ALPRO's fine-tuning: lr 5e-5, gradients of 2 steps accumulated, norm
# clipped at 20, 15 epochs, linear warm-up over the first 10% then linear
# decay to 0
max_epochs = 15
optim_wrapper = dict(
    optimizer=dict(lr=5e-5),
    clip_grad=dict(max_norm=20.0),
    accumulative_counts=2)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=0.1 * max_epochs,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=0.1 * max_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
# the release's batch per GPU (its GPU count is not in the config)
auto_scale_lr = dict(enable=False, base_batch_size=12)
randomness = dict(seed=42)
