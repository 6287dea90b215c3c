# The demo corpus (python tools/data/make_demo_data.py --out data/demo) in its
# WebVid CSV form: 64 px clips of coloured shapes, 8 frames per clip.
data_root = 'data/demo'
num_frames = 8
img_size = 64
# the direction words of the demo captions and their opposites, for the
# order-aware objective's swapped captions (OrderNegatives(swap_words=...))
direction_word_pairs = [('left', 'right'), ('up', 'down'),
                        ('leftward', 'rightward'), ('upward', 'downward'),
                        ('upwards', 'downwards')]

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size)),
    # ALPRO's RandAugment minus HorizontalFlip: the demo captions name
    # directions, and a flip would turn "moves left" into a wrong caption
    dict(
        type='TemporalConsistentRandAugment',
        num_ops=2,
        magnitude=5,
        ops=('Identity', 'Contrast', 'Brightness', 'Sharpness', 'ShearX',
             'ShearY', 'TranslateX', 'TranslateY', 'Rotate')),
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
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    # one torch thread and one decoder thread per worker
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    # every random draw of a sample from (seed, epoch, rank, sample index):
    # the same batches with any num_workers and after a resume
    sampler=dict(type='SeededSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='WebVidDataset',
        ann_file=f'{data_root}/annotations/results_demo_train.csv',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='WebVidDataset',
        ann_file=f'{data_root}/annotations/results_demo_val.csv',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
val_evaluator = dict(type='RetrievalMetric')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
