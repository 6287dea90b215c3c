# The demo data pipeline and the default runtime around a toy model, for tests
# of the training plumbing. Run with the demo corpus at ./data/demo.
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/datasets/demo_webvid.py',
]
custom_imports = dict(
    imports=['tests.toy_video_text_model'], allow_failed_imports=False)

model = dict(
    type='ToyVideoTextModel',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path='data/demo/tokenizer'),
        max_length=16))

# deterministic and in-process, so that a resumed run can equal a whole one
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline={{_base_.test_pipeline}}))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

train_cfg = dict(by_epoch=True, max_epochs=4)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=3)
]
default_hooks = dict(logger=dict(interval=1))
