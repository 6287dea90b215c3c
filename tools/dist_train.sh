#!/usr/bin/env bash
# Train on NPROC processes per node with torchrun (GPUs, or CPUs with gloo).
# Usage: bash tools/dist_train.sh CONFIG NPROC [train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
TOOLS=$(dirname "$0")
if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash $0 CONFIG NPROC [train.py options]" >&2
    echo "  NPROC: processes per node (GPUs, or CPU processes without one)" \
        "as a positive number${2:+, not '$2'}; several nodes: set NNODES," \
        "NODE_RANK, MASTER_ADDR and PORT on every node" >&2
    exit 2
fi
exec bash "$TOOLS/dist_run.sh" "$TOOLS/train.py" "$2" "$1" "${@:3}"
