#!/usr/bin/env bash
# Regenerates results/ for this machine kind: the `env` fingerprint, tuned
# plans (ResNet-50 at batch 1 on every core and on one, at batch 8, ResNeXt-50
# and the Keras layout at batch 1 on every core and on one) and a record of one interleaved run (CSV and raw JSON
# samples; a record, not a gate: scripts/ci-regression.sh is the gate).
# Usage: scripts/make-results.sh [PLANS_ONLY]   (any argument: skip the record run)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=.build/release/resnet-bench
mkdir -p results
$bin env > results/env.txt
$bin env --json > results/env.json
# A plan already in results/ from this machine (same fingerprint) is the
# incumbent of its re-tune (`tune --against`): timed beside the new choices
# inside the network and kept when it runs faster, so re-making results on a
# busy host does not replace a faster plan.
fingerprint=$(grep -o '"fingerprintId" : "[0-9a-f]*"' results/env.json | head -1)
tune() {
  local output=${*: -1}
  local against=()
  if [ -f "$output" ] && grep -q "$fingerprint" "$output"; then against=(--against "$output"); fi
  $bin tune "${@:1:$#-1}" "${against[@]}" --output "$output"
}
tune --model resnet50 results/plan-resnet50-v1.5-batch1.json
tune --model resnet50 --threads 1 results/plan-resnet50-v1.5-batch1-threads1.json
tune --model resnet50 --batch 8 --budget 300 results/plan-resnet50-v1.5-batch8.json
tune --model resnext50_32x4d results/plan-resnext50_32x4d-batch1.json
tune --model resnet50 --variant keras results/plan-resnet50-keras-batch1.json
tune --model resnet50 --variant keras --threads 1 results/plan-resnet50-keras-batch1-threads1.json
[ $# -gt 0 ] && exit 0
$bin run --model resnet50 --backend tiled-simd,im2col-openblas,im2col-blis,winograd --plan auto \
  --repetitions 15 --warmup 2 --layers --csv results/baseline.csv --json results/baseline.json
