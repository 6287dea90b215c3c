# MSRVTT-QA as ALPRO's release lays it out (config_release/msrvtt_qa.json):
# 16 frames, resized to 256 x 256, 224 crops, 12 questions per GPU.
#   data/msrvtt_qa/txt/{train,val,test}.jsonl  {"question", "answer",
#       "video_id", "answer_type"}
#   data/msrvtt_qa/txt/train_ans2label.json     the 1500 answers classified
#   data/msrvtt_qa/videos/{video_id}.mp4
data_root = 'data/msrvtt_qa'
ans2label_file = f'{data_root}/txt/train_ans2label.json'
video_ext = '.mp4'
num_frames = 16
img_size = 224
resize_size = 256
# the answer goes in as a label, its type as metainfo for per-type accuracy
pack = dict(
    type='PackVideoTextInputs',
    meta_keys=('sample_idx', 'video_id', 'video_path', 'frame_inds',
               'img_shape', 'short_clip', 'replaced', 'question_id',
               'answer_type'),
    data_keys=('answer_label', ))

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(resize_size, resize_size)),
    dict(type='RandomCrop', size=img_size),
    dict(type='TemporalConsistentRandAugment', num_ops=2, magnitude=5),
    pack,
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
    pack,
]

train_dataloader = dict(
    batch_size=12,
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
        type='VideoQADataset',
        ann_file=f'{data_root}/txt/train.jsonl',
        ans2label_file=ans2label_file,
        video_ext=video_ext,
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=12,
    num_workers=4,
    persistent_workers=True,
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='VideoQADataset',
        ann_file=f'{data_root}/txt/val.jsonl',
        ans2label_file=ans2label_file,
        video_ext=video_ext,
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=12,
    num_workers=4,
    persistent_workers=True,
    worker_init_fn=dict(
        type='init_data_worker', intra_op_threads=1, decoder_threads=1),
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='VideoQADataset',
        ann_file=f'{data_root}/txt/test.jsonl',
        ans2label_file=ans2label_file,
        video_ext=video_ext,
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
# accuracy over all questions (out-of-vocabulary answers count as wrong)
val_evaluator = dict(type='VideoQAMetric')
test_evaluator = val_evaluator
