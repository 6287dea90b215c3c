#!/usr/bin/env bash
# Run a tool on NPROC processes per node with torchrun (GPUs, or CPUs with
# gloo); dist_train.sh and dist_test.sh call this.
# Usage: bash tools/dist_run.sh TOOL.py NPROC [tool arguments]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash $0 TOOL.py NPROC [tool arguments]" >&2
    if [ $# -ge 2 ]; then
        echo "  NPROC must be a positive number of processes, got '$2'" >&2
    fi
    exit 2
fi
TOOL=$1
NPROC=$2
TOOLS=$(dirname "$0")

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$TOOL" "${@:3}" --launcher pytorch
