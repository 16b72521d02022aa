#!/usr/bin/env bash
# Regenerates results/ for this machine kind: the `env` fingerprint, a tuned
# ResNet-50 plan and the baseline CSV that scripts/ci-regression.sh compares
# against. The baseline run uses exactly the options of the CI check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=.build/release/resnet-bench
mkdir -p results
$bin env > results/env.txt
$bin tune --model resnet50 --output results/plan-resnet50-v1.5-batch1.json
$bin run --model resnet50 --backends tiled-simd,im2col-openblas,im2col-blis,winograd \
  --repetitions 15 --warmup 2 --layers --csv results/baseline.csv
