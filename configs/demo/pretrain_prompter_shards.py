# The demo prompter (./pretrain_prompter.py) trained from WebDataset shards
# instead of files: the same model, pipeline, optimiser and 30 epochs, as an
# iteration-based schedule over nominal epochs of the 960 training clips.
# Validation and test read the held-out files, as the file config does.
#   python tools/data/make_demo_data.py --out data/demo
#   python tools/data/pack_shards.py data/demo/shards \
#       --dataset-type WebVidDataset \
#       --ann-file data/demo/annotations/results_demo_train.csv \
#       --data-root data/demo/videos --max-samples-per-shard 120
#   python tools/train.py configs/demo/pretrain_prompter_shards.py
# (bash tools/demo_shards.sh runs these and tests the result.)
_base_ = ['./pretrain_prompter.py']

epoch_length = 960  # data/demo/shards/stats.json: 'samples'
batch_size = 16
# 2 workers x 480 samples = 30 batches each: 60 per nominal epoch, as the
# file config's 960 / 16
iters_per_epoch = epoch_length // batch_size
max_iters = _base_.max_epochs * iters_per_epoch

train_dataloader = dict(
    batch_size=batch_size,
    sampler=None,  # an iterable dataset: its own shard and buffer shuffle
    dataset=dict(
        _delete_=True,
        type='VideoTextShardDataset',
        shards='data/demo/shards/{00000..00007}.tar',
        pipeline={{_base_.train_pipeline}},
        # every worker's whole share (4 shards of 120): a full shuffle, as
        # the file config's sampler does
        shuffle_buffer=480,
        num_samples=epoch_length,
        epoch_length=epoch_length))
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
# the file config's schedule in iterations: one epoch of warm-up from 1e-2
# of the learning rate, then linear decay to 0
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,
        by_epoch=False,
        begin=0,
        end=iters_per_epoch),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=False,
        begin=iters_per_epoch,
        end=max_iters),
]
log_processor = dict(by_epoch=False)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=iters_per_epoch * 10))
# the nominal epochs and an exact --resume (docs/data.md, "Shards")
custom_hooks = [dict(type='ShardEpochHook')]
