# DiDeMo paragraph-to-video retrieval: ALPRO fine-tuned with VTC + VTM from
# the stage-2 checkpoint (config_release/didemo_ret.json). Paper, test set,
# t2v R@1 = 35.9.
#   python tools/train.py configs/alpro/finetune_didemo_ret.py
#   python tools/test.py configs/alpro/finetune_didemo_ret.py \
#       work_dirs/finetune_didemo_ret/epoch_10.pth
_base_ = [
    '../_base_/models/alpro_prompter.py',
    '../_base_/datasets/didemo_ret.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
load_from = 'work_dirs/pretrain_webvid/epoch_10.pth'  # pretrain_webvid.py

# the stage-2 encoders (see ../_base_/models/alpro_pretrain.py); the
# backbone keeps the 4-frame time embedding of pre-training, resampled to
# the clip's 8 frames at run time
model = dict(
    _delete_=True,
    type='AlproRetrieval',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path={{_base_.bert_dir}}),
        max_length=50),  # paragraphs: longer than MSRVTT's 40
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
    embed_dim=256,
    # every pair of the test set re-scored by VTM, as in ALPRO
    rerank_k='all',
    score='vtm_prob')

val_cfg = dict(_delete_=True, type='RetrievalValLoop')
test_cfg = dict(_delete_=True, type='RetrievalTestLoop')

# ALPRO's fine-tuning: lr 4e-5, gradient norm clipped at 20, 10 epochs,
# linear warm-up over the first 10% then linear decay to 0
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=4e-5), clip_grad=dict(max_norm=20.0))
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
