#!/usr/bin/env bash
# The main job on the embedded demo corpus, every stage of ALPRO on 2 CPU
# cores: make the corpus, list the components, measure the data pipeline,
# pre-train the prompter (stage 1), build the entity vocabulary, pre-train
# ALPRO (stage 2), fine-tune and test text-video retrieval and video QA, and
# print the table of test metrics that README.md shows. Each stage starts
# afresh (--overwrite: earlier checkpoints of the demo are replaced).
# TensorBoard logs: work_dirs/.
# Usage: bash tools/demo.sh     (PYTHON=... to pick an interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
W=work_dirs

echo "== [1/8] demo corpus -> data/demo"
"$PYTHON" tools/data/make_demo_data.py --out data/demo
echo "== [2/8] registered components (plugins included)"
"$PYTHON" tools/misc/print_registry.py
echo "== [3/8] training data pipeline throughput"
"$PYTHON" tools/analysis/benchmark_dataloader.py \
    configs/_base_/datasets/demo_webvid.py --num-batches 20
echo "== [4/8] prompter pre-training (ALPRO stage 1) -> $W/pretrain_prompter"
"$PYTHON" tools/train.py configs/demo/pretrain_prompter.py --overwrite
"$PYTHON" tools/test.py configs/demo/pretrain_prompter.py \
    $W/pretrain_prompter/epoch_30.pth \
    --dump-metrics $W/pretrain_prompter/test_metrics.json
echo "== [5/8] entity vocabulary -> data/demo/entities.txt"
"$PYTHON" tools/data/build_entity_vocab.py \
    data/demo/annotations/results_demo_train.csv \
    data/demo/annotations/cc3m_demo.json --out data/demo/entities.txt
echo "== [6/8] ALPRO pre-training (stage 2) -> $W/pretrain"
"$PYTHON" tools/train.py configs/demo/pretrain.py --overwrite
"$PYTHON" tools/test.py configs/demo/pretrain.py $W/pretrain/epoch_10.pth \
    --dump-metrics $W/pretrain/test_metrics.json
echo "== [7/8] retrieval fine-tuning and test -> $W/finetune_msrvtt_ret"
"$PYTHON" tools/train.py configs/demo/finetune_msrvtt_ret.py --overwrite
"$PYTHON" tools/test.py configs/demo/finetune_msrvtt_ret.py \
    $W/finetune_msrvtt_ret/epoch_6.pth \
    --dump-metrics $W/finetune_msrvtt_ret/test_metrics.json
echo "== [8/8] video QA fine-tuning and test -> $W/finetune_msrvtt_qa"
"$PYTHON" tools/train.py configs/demo/finetune_msrvtt_qa.py --overwrite
"$PYTHON" tools/test.py configs/demo/finetune_msrvtt_qa.py \
    $W/finetune_msrvtt_qa/epoch_12.pth \
    --dump-metrics $W/finetune_msrvtt_qa/test_metrics.json

echo "== test metrics (held-out colour-shape pairs)"
"$PYTHON" tools/misc/metrics_table.py \
    "prompter, zero-shot retrieval=$W/pretrain_prompter/test_metrics.json" \
    "ALPRO stage 2, zero-shot retrieval=$W/pretrain/test_metrics.json" \
    "ALPRO, fine-tuned retrieval=$W/finetune_msrvtt_ret/test_metrics.json" \
    "ALPRO, fine-tuned video QA=$W/finetune_msrvtt_qa/test_metrics.json"
echo "TensorBoard: tensorboard --logdir $W"
