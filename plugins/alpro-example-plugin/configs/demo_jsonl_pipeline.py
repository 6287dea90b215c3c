# The demo corpus as JSON Lines (tools/make_jsonl.py), read by this plugin's
# dataset, with its TemporalReverse transform in the pipeline.
_base_ = ['../../../configs/_base_/datasets/demo_webvid.py']

custom_imports = dict(
    imports=['alpro_example_plugin'], allow_failed_imports=False)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='JsonlVideoTextDataset',
        ann_file='data/demo/annotations/demo_train.jsonl',
        data_prefix=dict(video='data/demo/videos'),
        pipeline=[
            dict(type='DecordInit'),
            dict(type='SampleFrames', num_frames=4, strategy='rand'),
            dict(type='DecordDecode'),
            dict(type='Resize', scale=(64, 64)),
            dict(type='TemporalReverse', prob=0.5),
            dict(type='PackVideoTextInputs'),
        ]))
