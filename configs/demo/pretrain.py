# ALPRO stage 2 at toy size on the demo corpus, after the demo prompter and
# the demo entity vocabulary:
#   python tools/data/make_demo_data.py --out data/demo
#   python tools/train.py configs/demo/pretrain_prompter.py
#   python tools/data/build_entity_vocab.py \
#       data/demo/annotations/results_demo_train.csv \
#       data/demo/annotations/cc3m_demo.json --out data/demo/entities.txt
#   python tools/train.py configs/demo/pretrain.py
_base_ = [
    '../_base_/models/demo_prompter.py',
    '../_base_/datasets/demo_webvid.py',
    '../_base_/schedules/alpro_pretrain_10e.py',
    '../_base_/default_runtime.py',
]
tokenizer = dict(path='data/demo/tokenizer')
prompter_checkpoint = 'work_dirs/pretrain_prompter/epoch_30.pth'
# The demo encoders (../_base_/models/demo_alpro.py), taken from the
# prompter's model (`_base_.model`, ../_base_/models/demo_prompter.py): its
# data preprocessor, its video encoder, its 2 text layers and 2 fusion layers
# above them.
# ALPRO starts stage 2 from pre-trained unimodal encoders (ImageNet ViT,
# BERT-base). The demo has no pre-trained BERT, and a random tiny BERT gives
# every caption nearly the same [CLS], which MLM and VTM then keep from
# separating; so the demo starts its video encoder and text layers from the
# demo prompter's. In ALPRO the fusion layers are BERT-base's upper six
# layers, pre-trained on text alone; the demo prompter has no upper layers,
# so each fusion layer starts as a copy of the prompter's text layer below it
# (VTM alone after fine-tuning: t2v R@1 14.2, against 10.8 from random fusion
# layers; docs/benchmarks.md).
model = dict(
    _delete_=True,
    type='AlproPretrainer',
    data_preprocessor=dict(
        _base_.model.data_preprocessor,
        type='AlproPretrainDataPreprocessor',
        mlm_probability=0.15,
        pem=dict(patch_size=16, area=(0.3, 0.5), aspect=(0.3, 1 / 0.3))),
    backbone=dict(_base_.model.backbone, pretrained=prompter_checkpoint),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        config=dict(_base_.model.text_encoder.config, num_hidden_layers=4),
        fusion_layer=2,
        fusion_from_text_layers=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=prompter_checkpoint,
            prefix='text_encoder.')),
    prompter=dict(
        type='EntityPrompter',
        prompter={{_base_.model}},
        checkpoint=prompter_checkpoint,
        entity_file='data/demo/entities.txt',
        num_entities=25,  # every noun of the demo captions
        tokenizer=tokenizer,
        max_length=24,
        threshold=0.2),
    tasks=('vtc', 'vtm', 'mlm', 'pem'),
    # VTM on the demo (docs/benchmarks.md, "The demo with the order-aware
    # objective and a VTM that learns"):
    # with ALPRO's hard negatives from the first step and weight 1 the
    # random fusion layers stay at the prior (matched and unmatched pairs
    # 0.250 / 0.249) while MLM and PEM drive them; random negatives for the
    # first 300 steps and weight 5 let VTM learn what a match is, and the hard
    # negatives after it sharpen it. The ranking loss (each caption's match
    # against its negative video, each clip's against its negative caption)
    # teaches VTM the order retrieval ranks by: VTM alone after fine-tuning
    # t2v R@10 83.3 against 64.6 without it on seed 1 (docs/benchmarks.md)
    vtm_head=dict(
        type='VTMHead',
        negatives=dict(type='VTMNegativeSampler', random_iters=300),
        rank_weight=1.0),
    loss_weights=dict(vtm=5.0),
    # the prompter's order-aware objective, kept in stage 2 so that VTM
    # learns the direction of time too
    order_negatives=dict(swap_words={{_base_.direction_word_pairs}}),
    embed_dim=64)

# ALPRO's pre-training schedule (../_base_/schedules/alpro_pretrain_10e.py)
# at a toy model's learning rate, and a warm-up of one epoch from 1e-2 of the
# learning rate
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-2, end=1),
    dict(_base_.param_scheduler[1], begin=1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
custom_hooks = [
    dict(type='PromptCacheHook'),
    dict(type='TrainVisualizationHook', interval=50),
]
default_hooks = dict(logger=dict(interval=4))
