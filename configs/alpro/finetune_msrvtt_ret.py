# MSRVTT text-to-video retrieval: ALPRO fine-tuned with VTC + VTM from the
# stage-2 checkpoint (config_release/msrvtt_ret.json). Paper, 1k-A test,
# t2v R@1 / R@5 / R@10 = 33.9 / 60.7 / 73.2.
#   python tools/train.py configs/alpro/finetune_msrvtt_ret.py
#   python tools/test.py configs/alpro/finetune_msrvtt_ret.py \
#       work_dirs/finetune_msrvtt_ret/epoch_5.pth
# Trains on ALPRO's 7k split (data/msrvtt_ret/txt/train.jsonl); for the 9k
# split of later works, add this one line:
# train_dataloader = dict(dataset=dict(ann_file='data/msrvtt/MSRVTT_data.json', split_file='data/msrvtt/MSRVTT_train.9k.csv'))  # noqa: E501
# Multi-clip test-time averaging (K clips per video, tokens averaged):
#   --cfg-options model.test_clips=2 \
#       test_dataloader.dataset.pipeline.1.num_clips=2
_base_ = [
    '../_base_/models/alpro_finetune.py',
    '../_base_/datasets/msrvtt_ret.py',
    '../_base_/schedules/alpro_finetune.py',
    '../_base_/default_runtime.py',
]
load_from = 'work_dirs/pretrain_webvid/epoch_10.pth'  # pretrain_webvid.py

# the stage-2 encoders (../_base_/models/alpro_finetune.py), 8 frames
model = dict(
    _delete_=True,
    type='AlproRetrieval',
    data_preprocessor={{_base_.encoders.data_preprocessor}},
    backbone={{_base_.encoders.backbone}},
    text_encoder={{_base_.encoders.text_encoder}},
    embed_dim=256,
    # every pair of the test set re-scored by VTM, as in ALPRO
    rerank_k='all',
    score='vtm_prob')

val_cfg = dict(_delete_=True, type='RetrievalValLoop')
test_cfg = dict(_delete_=True, type='RetrievalTestLoop')

# ALPRO's fine-tuning: lr 2.5e-5, gradient norm clipped at 5, 5 epochs,
# linear warm-up over the first 10% then linear decay to 0
max_epochs = 5
optim_wrapper = dict(optimizer=dict(lr=2.5e-5), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=0.1 * max_epochs),
    dict(_base_.param_scheduler[1], begin=0.1 * max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
# the release's batch per GPU (its GPU count is not in the config)
auto_scale_lr = dict(base_batch_size=8)
randomness = dict(seed=42)
