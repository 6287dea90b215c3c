#!/usr/bin/env bash
# Test a checkpoint on NPROC processes per node with torchrun.
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
TOOLS=$(dirname "$0")
exec bash "$TOOLS/dist_run.sh" "$TOOLS/test.py" "$3" "$1" "$2" "${@:4}"
