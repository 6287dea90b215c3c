# ALPRO's prompter at toy size, for the demo corpus: the demo encoders
# (./demo_alpro.py: a tiny TimeSformer, 64-d, 2 blocks, 8 frames of 64 px in
# 2-frame tubelets of 16 px patches; a 64-d BERT built from a config over the
# demo tokenizer, data/demo/tokenizer) with a 2-layer BERT: the text layers
# below the fusion layers.
_base_ = ['./demo_alpro.py']

model = dict(
    type='PrompterPretrainer',
    text_encoder=dict(config=dict(num_hidden_layers=2), text_only=True),
    vtc_head=dict(type='VTCHead', temperature=0.07),
    embed_dim=64)
