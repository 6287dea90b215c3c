# ALPRO's pre-training data: WebVid-2M videos + CC-3M images as 4-frame clips,
# 224 px (config_release/pretrain_alpro.json of the original code).
webvid_root = 'data/webvid'
cc3m_root = 'data/cc3m'
num_frames = 4
img_size = 224
resize_size = 256

video_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='headtail'),
    dict(type='DecordDecode'),
    # ALPRO decodes straight to a 256 x 256 square, then crops 224
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
        strategy='headtail',
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(resize_size, resize_size)),
    dict(type='CenterCrop', size=img_size),
    dict(type='PackVideoTextInputs'),
]
image_pipeline = [
    dict(type='LoadImageAsClip', num_frames=num_frames),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.2, 1.0)),
    dict(type='Flip', flip_ratio=0.5),
    dict(
        type='TemporalConsistentRandAugment',
        num_ops=2,
        magnitude=7,
        ops=('Identity', 'Brightness', 'Sharpness', 'ShearX', 'ShearY',
             'TranslateX', 'TranslateY', 'Rotate')),
    dict(type='PackVideoTextInputs'),
]

webvid_train = dict(
    type='WebVidDataset',
    # the official release; ALPRO's own `train.pkl` works too (needs pandas)
    ann_file=f'{webvid_root}/results_2M_train.csv',
    data_prefix=dict(video=f'{webvid_root}/videos'),
    pipeline=video_pipeline)
cc3m_train = dict(
    type='CC3MDataset',
    ann_file=f'{cc3m_root}/cc3m.json',
    data_prefix=dict(img=cc3m_root),
    pipeline=image_pipeline)

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    # one torch thread and one decoder thread per worker
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    pin_memory=True,
    # every random draw of a sample from (seed, epoch, rank, sample index):
    # the same batches with any num_workers and after a resume
    sampler=dict(type='SeededSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ConcatDataset', datasets=[webvid_train, cc3m_train]))
# zero-shot text-video retrieval on WebVid's validation split
val_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='WebVidDataset',
        ann_file=f'{webvid_root}/results_2M_val.csv',
        data_prefix=dict(video=f'{webvid_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
val_evaluator = dict(type='RetrievalMetric')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
