# ALPRO's prompter (stage 1): TimeSformer-B/16 from an ImageNet ViT + the 6
# text layers of BERT-base uncased, 256-d projections, VTC.
# Local weights (no download at run time):
#   data/pretrained/vit_base_patch16_224.safetensors  timm's ViT-B/16 weights
#   data/pretrained/bert-base-uncased/                 HF folder: weights,
#                                                      config, tokenizer
bert_dir = 'data/pretrained/bert-base-uncased'
model = dict(
    type='PrompterPretrainer',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path=bert_dir),
        max_length=30),
    backbone=dict(
        type='TimeSformer',
        arch='base',
        img_size=224,
        patch_size=16,
        num_frames=4,
        drop_path_rate=0.1,
        pretrained='data/pretrained/vit_base_patch16_224.safetensors'),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        pretrained=bert_dir,
        fusion_layer=6,
        text_only=True),
    vtc_head=dict(type='VTCHead', temperature=0.07),
    embed_dim=256)
