# ALPRO's pre-training data pipelines (4 frames, 224 px crops, RandAugment;
# WebVid clips + CC-3M images) on a 256 px demo corpus, for the dataloader
# benchmark:
#   python tools/data/make_demo_data.py --out data/demo_256 --size 256
#   python tools/analysis/benchmark_dataloader.py \
#       configs/demo/pretrain_data_224.py
_base_ = ['../_base_/datasets/webvid_cc3m_pretrain.py']
data_root = 'data/demo_256'

train_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='WebVidDataset',
            ann_file=f'{data_root}/annotations/results_demo_train.csv',
            data_prefix=dict(video=f'{data_root}/videos'),
            pipeline={{_base_.video_pipeline}}),
        dict(
            type='CC3MDataset',
            ann_file=f'{data_root}/annotations/cc3m_demo.json',
            data_prefix=dict(img=data_root),
            pipeline={{_base_.image_pipeline}}),
    ]))
