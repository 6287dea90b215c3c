# A tiny AlproVideoQA evaluated on the demo corpus's QA test split, two
# clips of 4 frames per video averaged (test_clips), for the inference API
# tests: the encoders of retrieval_eval.py with a QA head. Run with the demo
# corpus at ./data/demo (24 videos: 27 answers).
_base_ = ['./retrieval_eval.py']
data_root = 'data/demo'
model = dict(
    _delete_=True,
    type='AlproVideoQA',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    text_encoder=_base_.model.text_encoder,
    num_answers=27,
    qa_head=dict(type='QAHead', hidden_ratio=2),
    test_clips=2)
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        num_frames=4,
        strategy='uniform',
        test_mode=True,
        num_clips=2),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(64, 64)),
    dict(
        type='PackVideoTextInputs',
        meta_keys=('sample_idx', 'video_id', 'video_path', 'frame_inds',
                   'question_id', 'answer_type'),
        data_keys=('answer_label', )),
]
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='VideoQADataset',
        ann_file=f'{data_root}/annotations/demo_qa/test.jsonl',
        ans2label_file=f'{data_root}/annotations/demo_qa/train_ans2label.json',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
test_cfg = dict(type='TestLoop')
test_evaluator = dict(_delete_=True, type='VideoQAMetric')
