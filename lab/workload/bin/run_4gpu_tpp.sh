#!/usr/bin/env bash
# Live Avatar's 4-GPU entry point (TPP), lab stand-in: the collective check first, then the job on 4 simulated GPUs.
set -euo pipefail
export SIM_GPU_COUNT=${SIM_GPU_COUNT:-4}
echo "[INFO] $(date '+%Y-%m-%d %H:%M:%S') run_4gpu_tpp.sh:5 - NCCL all-reduce check on ${SIM_GPU_COUNT} simulated GPUs" >&2
all_reduce_perf -g "$SIM_GPU_COUNT" -b "${NCCL_CHECK_MIN_BYTES:-8}" -e "${NCCL_CHECK_MAX_BYTES:-1M}" -n "${NCCL_CHECK_ITERS:-3}" \
  | tee "${NCCL_REPORT:-/outputs/nccl_all_reduce.txt}"
exec python3 -m liveavatar_sim --num_gpus "$SIM_GPU_COUNT" --offload_model "${OFFLOAD_MODEL:-False}" "$@"
