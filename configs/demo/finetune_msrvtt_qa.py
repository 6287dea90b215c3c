# Open-ended video QA (ALPRO's MSRVTT-QA recipe) at toy size on the demo
# corpus's QA annotations (colour, shape, direction and background of each
# clip), from the demo's stage-2 checkpoint.
#   python tools/train.py configs/demo/finetune_msrvtt_qa.py
#   python tools/test.py configs/demo/finetune_msrvtt_qa.py \
#       work_dirs/finetune_msrvtt_qa/epoch_12.pth
_base_ = [
    '../_base_/models/demo_alpro.py',
    '../_base_/datasets/demo_webvid.py',
    '../_base_/schedules/alpro_finetune.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/demo'
load_from = 'work_dirs/pretrain/epoch_10.pth'  # configs/demo/pretrain.py
num_frames = 8
img_size = 64

# the demo encoders (../_base_/models/demo_alpro.py), as in
# finetune_msrvtt_ret.py, with a QA head instead of VTC/VTM
model = dict(
    type='AlproVideoQA',
    # answers in annotations/demo_qa/train_ans2label.json of the default demo
    # corpus (make_demo_data.py: 8 colours + 6 shapes + 8 directions + 6
    # backgrounds); a smaller corpus may have fewer: set model.num_answers
    num_answers=28,
    qa_head=dict(type='QAHead', hidden_ratio=2),
    # the order-aware objective for QA: each clip also played backwards
    # with the opposite answer ("where" questions), so the direction must
    # be read from the frames' order. Without it "where" depended on the
    # machine: 47-58% over three seeds on one, 11-13% over two on another
    # (docs/benchmarks.md)
    reversed_clips=True)

# the answer as a label, its type as metainfo for per-type accuracy
pack = dict(
    type='PackVideoTextInputs',
    meta_keys=('sample_idx', 'video_id', 'video_path', 'frame_inds',
               'img_shape', 'short_clip', 'replaced', 'question_id',
               'answer_type'),
    data_keys=('answer_label', ))
# the answers time reversal swaps (the demo's directions)
opposite_answers = [('left', 'right'), ('up', 'down'),
                    ('up-left', 'down-right'), ('up-right', 'down-left')]
# no flips or rotations: questions ask which way the shape moves
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=num_frames, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(pack, data_keys=('answer_label', 'opposite_label')),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        num_frames=num_frames,
        strategy='uniform',
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size)),
    pack,
]
qa = dict(
    type='VideoQADataset',
    ans2label_file=f'{data_root}/annotations/demo_qa/train_ans2label.json',
    data_prefix=dict(video=f'{data_root}/videos'))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        ann_file=f'{data_root}/annotations/demo_qa/train.jsonl',
        pipeline=train_pipeline,
        opposite_answers=opposite_answers,
        **qa))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        ann_file=f'{data_root}/annotations/demo_qa/test.jsonl',
        pipeline=test_pipeline,
        test_mode=True,
        **qa))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='VideoQAMetric')
test_evaluator = val_evaluator

# ALPRO's fine-tuning schedule (../_base_/schedules/alpro_finetune.py) at a
# toy model's learning rate and epochs, and a warm-up of one epoch from 1e-2
# of the learning rate. 12 epochs: with 6, "where" (the direction of motion)
# scored 37.1 / 43.3 / 38.3% over three seeds, with 12 51.7 / 57.5 / 47.1%
# (docs/benchmarks.md)
max_epochs = 12
# the backbone at a tenth of the learning rate, so that the direction of
# motion it learned in pre-training survives the first epochs of the fresh
# QA head's gradients ("where" over three seeds 72-77% with it and the
# reversed clips, 13-98% with the reversed clips alone; docs/benchmarks.md)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-2, end=1),
    dict(_base_.param_scheduler[1], begin=1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=4))
