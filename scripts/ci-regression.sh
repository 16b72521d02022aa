#!/usr/bin/env bash
# CI regression check: a short ResNet-50 benchmark on this machine, compared
# with the committed baseline. Exit 0: nothing regressed beyond the threshold;
# 1: something did (listed); 2: unusable input (e.g. the baseline is missing).
#
# Usage: scripts/ci-regression.sh [BASELINE.csv] [THRESHOLD_PERCENT]
# The run uses the same options as the baseline (see README, "results/").
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=${1:-results/baseline.csv}
threshold=${2:-10}
scripts/setup.sh
current=$(mktemp --suffix=.csv)
trap 'rm -f "$current"' EXIT
.build/release/resnet-bench run --model resnet50 --backends tiled-simd,im2col-openblas,im2col-blis,winograd \
  --repetitions 15 --warmup 2 --csv "$current" >&2
.build/release/resnet-bench compare "$baseline" "$current" --threshold "$threshold"
