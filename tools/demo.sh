#!/usr/bin/env bash
# The main job on the embedded demo corpus, every stage that exists so far:
# make the corpus, list the registered components, measure the data pipeline,
# pre-train the prompter (ALPRO stage 1, zero-shot retrieval on held-out
# colour-shape pairs), build the entity vocabulary, pre-train ALPRO (stage 2:
# VTC + VTM + MLM + PEM). TensorBoard logs: work_dirs/.
# Usage: bash tools/demo.sh     (PYTHON=... to pick an interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

echo "== [1/6] demo corpus -> data/demo"
"$PYTHON" tools/data/make_demo_data.py --out data/demo
echo "== [2/6] registered components (plugins included)"
"$PYTHON" tools/misc/print_registry.py
echo "== [3/6] training data pipeline throughput"
"$PYTHON" tools/analysis/benchmark_dataloader.py \
    configs/_base_/datasets/demo_webvid.py --num-batches 20
echo "== [4/6] prompter pre-training (ALPRO stage 1) -> work_dirs/pretrain_prompter"
"$PYTHON" tools/train.py configs/demo/pretrain_prompter.py
echo "== [5/6] entity vocabulary -> data/demo/entities.txt"
"$PYTHON" tools/data/build_entity_vocab.py \
    data/demo/annotations/results_demo_train.csv \
    data/demo/annotations/cc3m_demo.json --out data/demo/entities.txt
echo "== [6/6] ALPRO pre-training (stage 2) -> work_dirs/pretrain"
"$PYTHON" tools/train.py configs/demo/pretrain.py
echo "TensorBoard: tensorboard --logdir work_dirs"
