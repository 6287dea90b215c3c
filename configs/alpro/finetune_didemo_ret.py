# DiDeMo paragraph-to-video retrieval: ALPRO fine-tuned with VTC + VTM from
# the stage-2 checkpoint (config_release/didemo_ret.json). Paper, test set,
# t2v R@1 = 35.9.
#   python tools/train.py configs/alpro/finetune_didemo_ret.py
#   python tools/test.py configs/alpro/finetune_didemo_ret.py \
#       work_dirs/finetune_didemo_ret/epoch_10.pth
# Everything as MSRVTT retrieval but the data, the text length, the batch,
# the learning rate, the clipping and the epochs.
#   data/didemo_ret/txt/{train,val,test}.jsonl  {"caption": [sentences],
#       "clip_name"}: the sentences of a video joined into one paragraph
#   data/didemo_ret/videos/{clip_name}.mp4
_base_ = ['./finetune_msrvtt_ret.py']

data_root = 'data/didemo_ret'
didemo = dict(
    type='DiDeMoRetrievalDataset',
    data_prefix=dict(video=f'{data_root}/videos'))
train_dataloader = dict(
    batch_size=12,
    dataset=dict(ann_file=f'{data_root}/txt/train.jsonl', **didemo))
val_dataloader = dict(
    batch_size=12,
    dataset=dict(ann_file=f'{data_root}/txt/val.jsonl', **didemo))
test_dataloader = dict(
    batch_size=12,
    dataset=dict(ann_file=f'{data_root}/txt/test.jsonl', **didemo))

# paragraphs: longer than MSRVTT's 40 tokens
model = dict(data_preprocessor=dict(max_length=50))

# ALPRO's DiDeMo: lr 4e-5, gradient norm clipped at 20, 10 epochs, 10%
# warm-up then linear decay
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=4e-5), clip_grad=dict(max_norm=20.0))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=0.1 * max_epochs),
    dict(_base_.param_scheduler[1], begin=0.1 * max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=12)
