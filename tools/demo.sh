#!/usr/bin/env bash
# The main job on the embedded demo corpus, every stage that exists so far:
# make the corpus, list the registered components, measure the data pipeline.
# Usage: bash tools/demo.sh     (PYTHON=... to pick an interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

echo "== [1/3] demo corpus -> data/demo"
"$PYTHON" tools/data/make_demo_data.py --out data/demo
echo "== [2/3] registered components (plugins included)"
"$PYTHON" tools/misc/print_registry.py
echo "== [3/3] training data pipeline throughput"
"$PYTHON" tools/analysis/benchmark_dataloader.py \
    configs/_base_/datasets/demo_webvid.py --num-batches 20
