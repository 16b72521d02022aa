#!/usr/bin/env bash
# Runs `resnet-bench conv --check` on every distinct layer shape of a model, for
# the given backends and thread counts, and prints one table line per shape,
# backend and thread count: time, GFLOP/s, % of peak, and (im2col backends) the
# bare library sgemm on the same M×N×K with the ratio conv ÷ bare.
# Usage: scripts/layer-sweep.sh [BACKENDS] [THREADS...]   e.g. scripts/layer-sweep.sh im2col-openblas,im2col-blis 1 2
set -euo pipefail
cd "$(dirname "$0")/.."
backends=${1:-all}; shift || true
threads=("${@:-1 2}")
bin=.build/release/resnet-bench
[ -x "$bin" ] || scripts/setup.sh
printf "%-44s %-16s %3s %10s %9s %7s %12s %9s\n" descriptor backend thr "ms" "GFLOP/s" "%peak" "bare GFLOP/s" "conv/bare"
for t in ${threads[@]}; do
  for d in $($bin layers --distinct | awk 'NR>2 && $1 ~ /^[0-9]+$/ {print $2}'); do
    $bin conv "$d" --backend "$backends" --threads "$t" --check --repetitions 15 | awk -v d="$d" -v t="$t" '
      /^  bare sgemm/ { printf "%-44s %-16s %3s %10s %9s %7s %12s %9s\n", d, name, t, ms, rate, pct, $5, $NF; shown=1; next }
      NR > 3 && $1 !~ /^ / && $1 != "backend" && $1 !~ /^-/ {
        if (name != "" && !shown) printf "%-44s %-16s %3s %10s %9s %7s %12s %9s\n", d, name, t, ms, rate, pct, "-", "-"
        name=$1; ms=$3; rate=$5; pct=$6; shown=0 }
      END { if (name != "" && !shown) printf "%-44s %-16s %3s %10s %9s %7s %12s %9s\n", d, name, t, ms, rate, pct, "-", "-" }'
  done
done
