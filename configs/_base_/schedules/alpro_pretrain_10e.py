# ALPRO's pre-training schedule: AdamW lr 1e-4, betas (0.9, 0.98), weight
# decay 1e-3 (not on biases, norms and the embeddings a module names in its
# no_weight_decay()), gradient norm clipped at 20, linear warm-up over the
# first 5% then linear decay to 0, 10 epochs.
# Speed: a fused AdamW over the trainable parameters in a few groups, and a
# wrapper whose step never waits for the GPU (`--amp` adds bf16 autocast).
max_epochs = 10
optim_wrapper = dict(
    type='SyncFreeOptimWrapper',
    constructor='DecayGroupsOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW',
        lr=1e-4,
        betas=(0.9, 0.98),
        weight_decay=1e-3,
        fused=True),
    clip_grad=dict(max_norm=20.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=0.05 * max_epochs,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=0.05 * max_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# 16 videos per GPU x 16 GPUs in the paper; scale the lr for other sizes
auto_scale_lr = dict(enable=False, base_batch_size=256)
