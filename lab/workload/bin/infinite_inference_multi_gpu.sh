#!/usr/bin/env bash
# Live Avatar's multi-GPU server entry point, lab stand-in: the server on SIM_GPU_COUNT simulated GPUs.
set -euo pipefail
export SIM_GPU_COUNT=${SIM_GPU_COUNT:-4}
exec python3 -m liveavatar_sim.server
