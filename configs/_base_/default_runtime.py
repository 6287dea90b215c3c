# Runtime shared by every alpro config: hooks, logging, TensorBoard, DDP.
default_scope = 'alpro'

default_hooks = dict(
    # MMEngine's RuntimeInfoHook without an .item() per loss per iteration:
    # the logged values are read from the device when the logger needs them
    runtime_info=dict(type='SyncFreeRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the last 3 epochs and the best one by the first validation metric
    # (alpro's metrics put a higher-is-better one first: R@1, accuracy)
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='auto',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # checkpoints stay loadable with torch.load(weights_only=True)
    safe_checkpoint=dict(type='SafeCheckpointHook'),
    # bad videos replaced in training: logged, counted, bounded
    bad_samples=dict(type='BadSampleHook', max_bad_ratio=0.01),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# DDP that also runs on CPU processes (gloo); see alpro/engine/model_wrappers.
# Scoped name: MMEngine's Runner looks wrappers up in its own root registry.
model_wrapper_cfg = dict(type='alpro.AlproDistributedDataParallel')

vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
log_level = 'INFO'

randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
