# ALPRO's encoders at toy size, for the demo corpus: a tiny TimeSformer
# (64-d, 2 blocks; 8 frames of 64 px in 2-frame tubelets of 16 px patches)
# and a 64-d BERT of 4 layers built from a config over the demo tokenizer
# (data/demo/tokenizer), the upper 2 fusing text and video (fusion_layer).
# The configs built on it name the algorithm (`type`) and add what it needs;
# the prompter (./demo_prompter.py) keeps the 2 text layers only.
model = dict(
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        tokenizer=dict(path='data/demo/tokenizer'),
        max_length=24),
    backbone=dict(
        type='TimeSformer',
        arch='tiny',
        img_size=64,
        patch_size=16,
        num_frames=8,
        tubelet_size=2,
        drop_path_rate=0.0),
    text_encoder=dict(
        type='BertTextFusionEncoder',
        config=dict(
            vocab_size=1000,
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0),
        fusion_layer=2))
