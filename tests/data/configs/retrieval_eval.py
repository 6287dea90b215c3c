# A tiny AlproRetrieval evaluated with RetrievalTestLoop on the demo corpus's
# held-out split (WebVid CSV form), for tests of exact evaluation under one
# and two processes. Run with the demo corpus at ./data/demo.
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/datasets/demo_webvid.py',
]
model = dict(
    type='AlproRetrieval',
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
    embed_dim=64,
    rerank_k='all',
    pair_batch_size=64)
test_dataloader = dict(batch_size=5, num_workers=0, persistent_workers=False)
test_cfg = dict(type='RetrievalTestLoop')
test_evaluator = dict(type='RetrievalMetric')
train_dataloader = None
train_cfg = None
optim_wrapper = None
val_dataloader = None
val_cfg = None
val_evaluator = None
