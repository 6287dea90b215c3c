# ALPRO stage 2: TimeSformer-B/16 + BERT-base (6 text + 6 fusion layers),
# VTC + VTM + MLM + PEM, with the stage-1 prompter frozen as the entity
# prompter. Local files (no download at run time):
#   data/pretrained/vit_base_patch16_224.safetensors, bert-base-uncased/
#   work_dirs/pretrain_prompter_webvid/epoch_10.pth   (stage 1:
#       python tools/train.py configs/alpro/pretrain_prompter_webvid.py)
#   data/webvid/entities.txt  (python tools/data/build_entity_vocab.py
#       data/webvid/results_2M_train.csv data/cc3m/cc3m.json
#       --out data/webvid/entities.txt --top-k 1000)
_base_ = ['./alpro_prompter.py']

model = dict(
    _delete_=True,
    type='AlproPretrainer',
    data_preprocessor=dict(
        type='AlproPretrainDataPreprocessor',
        tokenizer=dict(path={{_base_.bert_dir}}),
        max_length=30,
        mlm_probability=0.15,
        pem=dict(patch_size=16, area=(0.3, 0.5), aspect=(0.3, 1 / 0.3))),
    backbone={{_base_.model.backbone}},
    text_encoder=dict(
        type='BertTextFusionEncoder',
        pretrained={{_base_.bert_dir}},
        fusion_layer=6),
    prompter=dict(
        type='EntityPrompter',
        prompter={{_base_.model}},
        checkpoint='work_dirs/pretrain_prompter_webvid/epoch_10.pth',
        entity_file='data/webvid/entities.txt',
        tokenizer=dict(path={{_base_.bert_dir}}),
        num_entities=1000,
        threshold=0.2,
        # frozen: stored in bf16, no per-step autocast re-cast of its weights
        weights_dtype='bfloat16'),
    # the release's mpm_head: Linear-ReLU-Linear, hidden 2 x 768
    pem_head=dict(type='PEMHead', activation='relu'),
    tasks=('vtc', 'vtm', 'mlm', 'pem'),
    loss_weights=dict(vtc=1.0, vtm=1.0, mlm=1.0, pem=1.0),
    embed_dim=256)
