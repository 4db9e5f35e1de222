#!/usr/bin/env bash
# The fair protocol on one CUDA GPU, at full width and longer budgets: the prepared script for a
# lent accelerator (python -m benchmarks.fair documents the protocol).
#
#   OPENGAIT_ROOT=/path/to/OpenGait bash benchmarks/device_fair.sh [BUDGETS] [JOBS]
#
# BUDGETS: training iterations, comma list (default 1000,3000), each trained on its own with its LR
# schedule scaled to it; JOBS: launcher runs sharing the GPU at once (default 4; accuracy only, no
# timing is read from these runs). Needs the environment of the README's first command (torch with
# CUDA, torchvision, OpenGait's dependencies). Results go to benchmarks/results/full/fair-cuda.md;
# the work dir (data, checkpoints, logs) to $WORKDIR (default /tmp/gaitbert-fair-cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OPENGAIT_ROOT:?set OPENGAIT_ROOT to an OpenGait clone}"
budgets="${1:-1000,3000}"
jobs="${2:-4}"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -m benchmarks.fair --full --device cuda --jobs "$jobs" --budgets "$budgets" \
    --generators synth,bodies --seeds 0,1,2 --extra feature \
    --workdir "${WORKDIR:-/tmp/gaitbert-fair-cuda}" --results benchmarks/results/full --name fair-cuda
