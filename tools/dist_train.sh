#!/usr/bin/env bash
# Train on NPROC processes per node with torchrun (GPUs, or CPUs with gloo).
# Usage: bash tools/dist_train.sh CONFIG NPROC [train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
TOOLS=$(dirname "$0")
exec bash "$TOOLS/dist_run.sh" "$TOOLS/train.py" "$2" "$1" "${@:3}"
