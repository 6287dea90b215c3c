# MSRVTT-QA: ALPRO fine-tuned for open-ended QA (classification over the
# 1500 training answers) from the stage-2 checkpoint
# (config_release/msrvtt_qa.json). Paper, test accuracy 42.1.
#   python tools/train.py configs/alpro/finetune_msrvtt_qa.py
#   python tools/test.py configs/alpro/finetune_msrvtt_qa.py \
#       work_dirs/finetune_msrvtt_qa/epoch_10.pth
# MSRVTT-QA's own split (its train.jsonl covers the 9k training videos).
_base_ = [
    '../_base_/models/alpro_finetune.py',
    '../_base_/datasets/msrvtt_qa.py',
    '../_base_/schedules/alpro_finetune.py',
    '../_base_/default_runtime.py',
]
load_from = 'work_dirs/pretrain_webvid/epoch_10.pth'  # pretrain_webvid.py

# the stage-2 encoders (../_base_/models/alpro_finetune.py) at 16 frames,
# and a fresh 2-layer MLP head
model = dict(
    _delete_=True,
    type='AlproVideoQA',
    data_preprocessor={{_base_.qa_encoders.data_preprocessor}},
    backbone={{_base_.qa_encoders.backbone}},
    text_encoder={{_base_.qa_encoders.text_encoder}},
    # the size of data/msrvtt_qa/txt/train_ans2label.json
    num_answers=1500,
    qa_head=dict(type='QAHead', hidden_ratio=2))

# ALPRO's fine-tuning (../_base_/schedules/alpro_finetune.py: 10 epochs,
# linear warm-up over the first 10% then linear decay to 0) at lr 5e-5,
# gradients of 2 steps accumulated, norm clipped at 5
optim_wrapper = dict(
    optimizer=dict(lr=5e-5),
    clip_grad=dict(max_norm=5.0),
    accumulative_counts=2)
# the release's batch per GPU (its GPU count is not in the config)
auto_scale_lr = dict(base_batch_size=12)
randomness = dict(seed=42)
