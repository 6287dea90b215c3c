# The demo corpus (python tools/data/make_demo_data.py --out data/demo) in its
# WebVid CSV form: 64 px clips of coloured shapes, 4 frames per clip.
data_root = 'data/demo'
num_frames = 4
img_size = 64

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='RandomCrop', size=img_size),
    dict(type='TemporalConsistentRandAugment', num_ops=2, magnitude=5),
    dict(type='PackVideoTextInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='uniform'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackVideoTextInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='WebVidDataset',
        ann_file=f'{data_root}/annotations/results_demo_train.csv',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='WebVidDataset',
        ann_file=f'{data_root}/annotations/results_demo_val.csv',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
