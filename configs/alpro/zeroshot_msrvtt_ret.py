# Zero-shot MSRVTT text-to-video retrieval: the stage-2 checkpoint, not
# fine-tuned, on the 1k-A test (data/msrvtt_ret/txt/test.jsonl). Paper:
# t2v R@1 = 24.1. Test only:
#   python tools/test.py configs/alpro/zeroshot_msrvtt_ret.py \
#       work_dirs/pretrain_webvid/epoch_10.pth
# Same model, frames and test pipeline as finetune_msrvtt_ret.py.
_base_ = ['./finetune_msrvtt_ret.py']
