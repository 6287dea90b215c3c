# The stage-2 encoders as the fine-tuning configs build them: their weights
# come from the stage-2 checkpoint (load_from), so no ImageNet ViT is
# loaded; captions up to 40 tokens; the backbone keeps the 4-frame time
# embedding of pre-training, resampled to the clip's frames at run time.
_base_ = ['./alpro_prompter.py']

encoders = dict(
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path={{_base_.bert_dir}}),
        max_length=40),
    backbone=dict(
        type='TimeSformer',
        arch='base',
        img_size=224,
        patch_size=16,
        num_frames=4,
        drop_path_rate=0.1),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        pretrained={{_base_.bert_dir}},
        fusion_layer=6))
