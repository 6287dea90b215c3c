#!/usr/bin/env bash
# The main job on the embedded demo corpus, every stage that exists so far:
# make the corpus, list the registered components, measure the data pipeline,
# pre-train the prompter (ALPRO stage 1) with zero-shot retrieval on held-out
# colour-shape pairs, logged to TensorBoard under work_dirs/demo.
# Usage: bash tools/demo.sh     (PYTHON=... to pick an interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

echo "== [1/4] demo corpus -> data/demo"
"$PYTHON" tools/data/make_demo_data.py --out data/demo
echo "== [2/4] registered components (plugins included)"
"$PYTHON" tools/misc/print_registry.py
echo "== [3/4] training data pipeline throughput"
"$PYTHON" tools/analysis/benchmark_dataloader.py \
    configs/_base_/datasets/demo_webvid.py --num-batches 20
echo "== [4/4] prompter pre-training (ALPRO stage 1), zero-shot retrieval"
"$PYTHON" tools/train.py configs/demo/pretrain_prompter.py \
    --work-dir work_dirs/demo/pretrain_prompter
echo "TensorBoard: tensorboard --logdir work_dirs/demo"
