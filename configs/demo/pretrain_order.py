# configs/demo/pretrain.py with the order-aware objective: each clip's own
# frames, reversed, are one more negative of its caption in VTC and VTM
# (every caption; set words=[...] for only those naming a direction).
#   python tools/train.py configs/demo/pretrain_order.py
_base_ = ['./pretrain.py']
model = dict(order_negatives=dict())
