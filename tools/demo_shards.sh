#!/usr/bin/env bash
# The demo prompter (ALPRO stage 1) trained from WebDataset shards instead of
# files, on 2 CPU cores: pack the demo corpus's training clips into 8 shards,
# train configs/demo/pretrain_prompter_shards.py (the file config's model,
# pipeline and schedule, read as a stream with nominal epochs), test it on
# the held-out files and print its metrics beside the file-based prompter's
# (after tools/demo.sh; else only the shard row).
# Usage: bash tools/demo_shards.sh     (PYTHON=... to pick an interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
W=work_dirs

if [ ! -f data/demo/meta.json ]; then
    "$PYTHON" tools/data/make_demo_data.py --out data/demo
fi
echo "== [1/2] demo training clips -> data/demo/shards"
"$PYTHON" tools/data/pack_shards.py data/demo/shards \
    --dataset-type WebVidDataset \
    --ann-file data/demo/annotations/results_demo_train.csv \
    --data-root data/demo/videos --max-samples-per-shard 120
echo "== [2/2] prompter pre-training from shards -> $W/pretrain_prompter_shards"
"$PYTHON" tools/train.py configs/demo/pretrain_prompter_shards.py --overwrite
"$PYTHON" tools/test.py configs/demo/pretrain_prompter_shards.py \
    $W/pretrain_prompter_shards/iter_1800.pth \
    --dump-metrics $W/pretrain_prompter_shards/test_metrics.json

rows=("prompter from shards, zero-shot retrieval=$W/pretrain_prompter_shards/test_metrics.json")
if [ -f $W/pretrain_prompter/test_metrics.json ]; then
    rows=("prompter from files, zero-shot retrieval=$W/pretrain_prompter/test_metrics.json"
          "${rows[@]}")
fi
echo "== test metrics (held-out colour-shape pairs)"
"$PYTHON" tools/misc/metrics_table.py "${rows[@]}"
