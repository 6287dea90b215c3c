# ALPRO stage 2 (./pretrain_webvid.py) from WebDataset shards: WebVid-2M
# videos and CC-3M images streamed from tars (video2dataset / img2dataset
# output, or tools/data/pack_shards.py), for clusters that cannot serve
# millions of small random reads. docs/data.md "From downloads to a
# multi-node run" walks through it.
#   bash tools/dist_train.sh configs/alpro/pretrain_webvid_shards.py 8 --amp
#   (x 2 nodes: NNODES=2 NODE_RANK=... MASTER_ADDR=... PORT=...)
#   GPUS=16 bash tools/slurm_train.sh PARTITION alpro \
#       configs/alpro/pretrain_webvid_shards.py --amp
# The same model, pipelines and optimiser as the file config; one stream
# over both shard sets mixes videos and images in proportion to their sizes,
# as the file config's ConcatDataset does, each through its own pipeline.
_base_ = ['./pretrain_webvid.py']

webvid_shards = 'data/webvid/shards/{00000..02499}.tar'
cc3m_shards = 'data/cc3m/shards/{00000..02999}.tar'
# the 'samples' of each shard set's stats.json (pack_shards.py) or the
# downloader's stats: one nominal epoch is one pass over both corpora
webvid_samples = 2_500_000
cc3m_samples = 3_000_000
epoch_length = webvid_samples + cc3m_samples
# the paper's 16 videos per GPU on 16 GPUs; set num_gpus to the ranks you
# launch (each rank hands out epoch_length // num_gpus samples per epoch)
batch_size = 16
num_gpus = 16
iters_per_epoch = epoch_length // (batch_size * num_gpus)
max_iters = _base_.max_epochs * iters_per_epoch

train_dataloader = dict(
    batch_size=batch_size,
    sampler=None,  # an iterable dataset: its own shard and buffer shuffle
    dataset=dict(
        _delete_=True,
        type='VideoTextShardDataset',
        shards=[webvid_shards, cc3m_shards],
        pipeline={{_base_.video_pipeline}},
        image_pipeline={{_base_.image_pipeline}},
        shuffle_buffer=1000,  # undecoded samples per worker (~ 1 GB)
        num_samples=epoch_length,
        epoch_length=epoch_length))
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=iters_per_epoch)
# ALPRO's schedule in iterations: warm-up over the first 5%, then linear
# decay to 0
warmup_iters = max_iters // 20
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters),
]
log_processor = dict(by_epoch=False)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=iters_per_epoch // 4))
# the nominal epochs and an exact --resume (docs/data.md, "Shards")
custom_hooks = _base_.custom_hooks + [dict(type='ShardEpochHook')]
