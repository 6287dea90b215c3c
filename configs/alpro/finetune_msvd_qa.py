# MSVD-QA: ALPRO fine-tuned for open-ended QA (classification over the
# 2423 training answers) from the stage-2 checkpoint
# (config_release/msvd_qa.json). Paper, test accuracy 45.9.
#   python tools/train.py configs/alpro/finetune_msvd_qa.py
#   python tools/test.py configs/alpro/finetune_msvd_qa.py \
#       work_dirs/finetune_msvd_qa/epoch_15.pth
# Everything as MSRVTT-QA but the data (MSVD's YouTube clips are .avi), the
# answer count, the gradient clipping and the epochs.
_base_ = ['./finetune_msrvtt_qa.py']

data_root = 'data/msvd_qa'
msvd = dict(
    ans2label_file=f'{data_root}/txt/train_ans2label.json',
    video_ext='.avi',
    data_prefix=dict(video=f'{data_root}/videos'))
train_dataloader = dict(
    dataset=dict(ann_file=f'{data_root}/txt/train.jsonl', **msvd))
val_dataloader = dict(
    dataset=dict(ann_file=f'{data_root}/txt/val.jsonl', **msvd))
test_dataloader = dict(
    dataset=dict(ann_file=f'{data_root}/txt/test.jsonl', **msvd))

# the size of data/msvd_qa/txt/train_ans2label.json
model = dict(num_answers=2423)

# ALPRO's MSVD-QA: norm clipped at 20, 15 epochs, 10% warm-up
max_epochs = 15
optim_wrapper = dict(clip_grad=dict(max_norm=20.0))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=0.1 * max_epochs),
    dict(_base_.param_scheduler[1], begin=0.1 * max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
