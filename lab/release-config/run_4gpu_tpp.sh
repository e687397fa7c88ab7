#!/usr/bin/env bash
# 4-GPU validation launch script of this fleet (release configuration): NCCL settings and the all-reduce sizes.
set -euo pipefail
export NCCL_DEBUG="${NCCL_DEBUG:-WARN}"
export NCCL_CHECK_MAX_BYTES="${NCCL_CHECK_MAX_BYTES:-1M}"
exec run_4gpu_tpp.sh "$@"
