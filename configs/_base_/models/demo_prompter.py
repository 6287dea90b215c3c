# ALPRO's prompter at toy size, for the demo corpus: a tiny TimeSformer
# (64-d, 2 blocks, 4 x 64 px, 16 px patches) and a 2-layer, 64-d BERT built
# from a config over the demo tokenizer (data/demo/tokenizer).
model = dict(
    type='PrompterPretrainer',
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
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0),
        fusion_layer=2,
        text_only=True),
    vtc_loss=dict(type='VTCLoss', temperature=0.07),
    embed_dim=64)
