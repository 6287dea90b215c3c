# MSRVTT text-to-video retrieval as ALPRO's release lays it out
# (config_release/msrvtt_ret.json): 8 frames, resized to 256 x 256, 224 crops,
# random frames in training and uniform ones in evaluation.
#   data/msrvtt_ret/txt/{train,val,test}.jsonl  {"caption", "clip_name"}
#   data/msrvtt_ret/videos/{clip_name}.mp4
# ALPRO's train.jsonl is the 7k split (JSFusion/ClipBERT); test.jsonl is the
# 1k-A test set (MSRVTT_JSFUSION_test.csv) that the paper reports.
data_root = 'data/msrvtt_ret'
num_frames = 8
img_size = 224
resize_size = 256

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(resize_size, resize_size)),
    dict(type='RandomCrop', size=img_size),
    dict(type='TemporalConsistentRandAugment', num_ops=2, magnitude=5),
    dict(type='PackVideoTextInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        num_frames=num_frames,
        strategy='uniform',
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(resize_size, resize_size)),
    dict(type='CenterCrop', size=img_size),
    dict(type='PackVideoTextInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    # one torch thread and one decoder thread per worker
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    pin_memory=True,
    # every random draw of a sample from (seed, epoch, rank, sample index):
    # the same batches with any num_workers and after a resume
    sampler=dict(type='SeededSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MSRVTTRetrievalDataset',
        ann_file=f'{data_root}/txt/train.jsonl',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MSRVTTRetrievalDataset',
        ann_file=f'{data_root}/txt/val.jsonl',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MSRVTTRetrievalDataset',
        ann_file=f'{data_root}/txt/test.jsonl',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
# every caption ranked against every clip, then re-scored by VTM
val_evaluator = dict(type='RetrievalMetric')
test_evaluator = val_evaluator
