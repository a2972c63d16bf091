#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG NUM_PROCS [train.py args ...]
# Multi-node: NNODES=2 NODE_RANK=0|1 MASTER_ADDR=<host of rank 0> PORT=29500 tools/dist_train.sh ...
# (SLURM: srun python -u tools/train.py CONFIG --launcher slurm)
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
DIR="$(cd "$(dirname "$0")" && pwd)"
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" --nproc_per_node="$NPROC" "$DIR/train.py" "$CONFIG" --launcher pytorch "${@:3}"
