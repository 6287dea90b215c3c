# Text-video retrieval fine-tuning (VTC + VTM) at toy size on the demo
# corpus's MSRVTT-form annotations, from the demo's stage-2 checkpoint;
# evaluation ranks every caption against every clip of the held-out split
# and re-scores all pairs with VTM (the paper's protocol).
#   python tools/train.py configs/demo/finetune_msrvtt_ret.py
#   python tools/test.py configs/demo/finetune_msrvtt_ret.py \
#       work_dirs/finetune_msrvtt_ret/epoch_6.pth
_base_ = [
    '../_base_/models/demo_alpro.py',
    '../_base_/datasets/demo_webvid.py',
    '../_base_/schedules/alpro_finetune.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/demo'
load_from = 'work_dirs/pretrain/epoch_10.pth'  # configs/demo/pretrain.py

# the demo encoders (../_base_/models/demo_alpro.py) with VTC and VTM
model = dict(
    type='AlproRetrieval',
    embed_dim=64,
    # the stage-2 recipe of configs/demo/pretrain.py: VTM weighed 5, random
    # negatives for the first 90 steps, VTM's ranking loss, the order-aware
    # objective
    vtm_head=dict(
        type='VTMHead',
        negatives=dict(type='VTMNegativeSampler', random_iters=90),
        rank_weight=1.0),
    loss_weights=dict(vtm=5.0),
    order_negatives=dict(swap_words={{_base_.direction_word_pairs}}),
    rerank_k='all',
    # every pair re-scored (the paper's protocol); the toy VTM head alone
    # ranked below VTC alone with three epochs of this fine-tuning (t2v R@1
    # 12.5 against 14.6 over three seeds) and is level at R@1, below at R@10
    # with six (docs/benchmarks.md), so the demo adds the VTC similarity to
    # the VTM logit, as LAVIS does; the paper's configs keep 'vtm_prob'
    score='vtm_logit+vtc')

retrieval = dict(
    type='MSRVTTRetrievalDataset',
    data_prefix=dict(video=f'{data_root}/videos'))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        ann_file=f'{data_root}/annotations/msrvtt_ret/train.jsonl',
        pipeline={{_base_.train_pipeline}},
        **retrieval))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        ann_file=f'{data_root}/annotations/msrvtt_ret/test.jsonl',
        pipeline={{_base_.test_pipeline}},
        test_mode=True,
        **retrieval))
test_dataloader = val_dataloader
val_cfg = dict(_delete_=True, type='RetrievalValLoop')
test_cfg = dict(_delete_=True, type='RetrievalTestLoop')

# ALPRO's fine-tuning schedule (../_base_/schedules/alpro_finetune.py) at a
# toy model's learning rate and epochs, and a warm-up of one epoch from 1e-2
# of the learning rate. Six epochs rather than three: every retrieval figure
# rises, VTM alone the most (t2v R@1 over three seeds, VTC / VTM alone: 16.2
# / 15.1 at 3 epochs, 18.3 / 18.3 at 6; docs/benchmarks.md)
max_epochs = 6
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-2, end=1),
    dict(_base_.param_scheduler[1], begin=1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=4))
