#!/usr/bin/env bash
# The converged protocol (python -m benchmarks.converged) on one CUDA GPU at full width: every model's
# own channel widths, the same 32x22 frames, data, steps and seeds as the CPU figures (which run at
# widths / 8), so the two sit side by side. The prepared script for a lent accelerator.
#
#   OPENGAIT_ROOT=/path/to/OpenGait bash benchmarks/device_converged.sh [SEEDS] [JOBS] [ARMS]
#
# SEEDS: comma list (default 0,1,2,3,4); JOBS: runs sharing the GPU at once (default 4; accuracy only,
# no time is read from these runs); ARMS: default the recipe, its ablation and GaitBase with and
# without its DA. Needs the environment of the README's first command (torch with CUDA, torchvision,
# OpenGait's dependencies). Results: benchmarks/results/converged-full-width/; the work dir (data,
# checkpoints, logs): $WORKDIR (default /tmp/gaitbert-converged-cuda). A stopped run resumes: every
# finished run is a result file, and the script trains only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OPENGAIT_ROOT:?set OPENGAIT_ROOT to an OpenGait clone}"
seeds="${1:-0,1,2,3,4}"
jobs="${2:-4}"
arms="${3:-GaitBERT,GaitBERT-supervised,GaitBase,GaitBase-no-da}"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -m benchmarks.converged --device cuda --width-divisor 1 --jobs "$jobs" --seeds "$seeds" --arms "$arms" \
    --generators synth,bodies --workdir "${WORKDIR:-/tmp/gaitbert-converged-cuda}" \
    --results benchmarks/results/converged-full-width
