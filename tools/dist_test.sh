#!/usr/bin/env bash
# Test a checkpoint on NPROC processes per node with torchrun.
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
TOOLS=$(dirname "$0")
if [ $# -lt 3 ] || ! [[ $3 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash $0 CONFIG CHECKPOINT NPROC [test.py options]" >&2
    echo "  NPROC: processes per node (GPUs, or CPU processes without one)" \
        "as a positive number${3:+, not '$3'}; several nodes: set NNODES," \
        "NODE_RANK, MASTER_ADDR and PORT on every node" >&2
    exit 2
fi
exec bash "$TOOLS/dist_run.sh" "$TOOLS/test.py" "$3" "$1" "$2" "${@:4}"
