#!/usr/bin/env bash
# Serving launch script of this fleet (release configuration): the GPUs and flags the server runs with.
set -euo pipefail
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0,1,2,3}"
export ENABLE_ONLINE_DECODE="${ENABLE_ONLINE_DECODE:-true}"
exec infinite_inference_multi_gpu.sh "$@"
