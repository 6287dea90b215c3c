# A tiny AlproVideoQA evaluated on the demo corpus's QA test split, two
# clips of 4 frames per video averaged (test_clips), for the inference API
# tests. Run with the demo corpus at ./data/demo (24 videos: 27 answers).
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/datasets/demo_webvid.py',
]
data_root = 'data/demo'
model = dict(
    type='AlproVideoQA',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path='data/demo/tokenizer'),
        max_length=16),
    backbone=dict(
        type='TimeSformer',
        arch='tiny',
        img_size=64,
        patch_size=16,
        num_frames=4,
        drop_path_rate=0.0),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        config=dict(
            vocab_size=1000,
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=64),
        fusion_layer=2),
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
    batch_size=5,
    num_workers=0,
    persistent_workers=False,
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
train_dataloader = None
train_cfg = None
optim_wrapper = None
val_dataloader = None
val_cfg = None
val_evaluator = None
