#!/usr/bin/env bash
# Set-up plus the main job: ResNet-50 v1.5, batch 1, every available backend
# side by side, checked against the Float64 reference. Extra arguments go to
# `resnet-bench run` (e.g. --csv results/run.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.build/release/resnet-bench run --plan auto "$@"
