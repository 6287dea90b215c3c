# The stage-2 encoders as the fine-tuning configs build them: their weights
# come from the stage-2 checkpoint (load_from), so no ImageNet ViT is
# loaded; captions up to 40 tokens. The clip lengths of the release: 8
# frames for retrieval (`encoders`), 16 for QA (`qa_encoders`). The 4-frame
# time embedding of pre-training is resized once, when the checkpoint is
# loaded, with nearest interpolation as the release does
# (src/utils/load_save.py); a released fine-tuned checkpoint already holds
# 8 or 16 entries and loads as it is.
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
        num_frames=8,
        time_embed_resize='nearest',
        drop_path_rate=0.1),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        pretrained={{_base_.bert_dir}},
        fusion_layer=6))
qa_encoders = dict(
    encoders, backbone=dict(encoders['backbone'], num_frames=16))
