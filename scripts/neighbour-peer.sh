#!/usr/bin/env bash
# How the comparison with ONNX Runtime and OpenVINO holds up beside a
# memory-bound neighbour. For each neighbour size (8, 64 and 512 MB, or the
# sizes in NEIGHBOUR_MB, e.g. NEIGHBOUR_MB="8 64"), one quiet run
# (scripts/onnx-peer.sh --single-core: everything on core 0, one thread) and
# one loaded run (--neighbour MB: the same, with a memory-streaming load on the
# last core), alternately, so that drift of the machine hits both sides alike.
# Then per size: plan ÷ best peer quiet, loaded, and loaded − quiet. Without a
# plan the headline row is the best backend, and its name is shown.
#
# Arguments go to every scripts/onnx_peer.py run (see --help there), e.g.
#   scripts/neighbour-peer.sh --model resnet18 --size 64 --pairs 3
# Each run's full report is kept in NEIGHBOUR_DIR (default: a new temporary
# directory). Exit code: the worst of the runs' (0 agreement, 1 logits
# differ, 2 a run could not be made).
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a sizes <<<"${NEIGHBOUR_MB:-8 64 512}"
dir=${NEIGHBOUR_DIR:-$(mktemp -d /tmp/neighbour-peer-XXXXXX)}
mkdir -p "$dir"
status=0

# "plan 0.83" from a report's headline, e.g. "plan ÷ best peer = 0.83 (median of 3 pairs: …)".
headline() { sed -n 's/^\([^ ]*\) ÷ best peer = \([0-9.]*\) .*/\1 \2/p' "$1" | tail -n 1; }

for mb in "${sizes[@]}"; do
  for side in quiet loaded; do
    report="$dir/$mb-$side.txt"
    if [ "$side" = quiet ]; then flags=(--single-core); else flags=(--neighbour "$mb"); fi
    echo "neighbour-peer: $mb MB, $side (report: $report)" >&2
    code=0
    scripts/onnx-peer.sh "$@" "${flags[@]}" >"$report" || code=$?
    [ "$code" -gt "$status" ] && status=$code
    echo "neighbour-peer: $mb MB, $side: $(headline "$report" || true) (exit $code)" >&2
  done
done

printf '%-9s  %-24s  %-24s  %s\n' "neighbour" "quiet (÷ best peer)" "loaded (÷ best peer)" "loaded − quiet"
for mb in "${sizes[@]}"; do
  read -r qname quiet <<<"$(headline "$dir/$mb-quiet.txt")" || true
  read -r lname loaded <<<"$(headline "$dir/$mb-loaded.txt")" || true
  if [ -n "${quiet:-}" ] && [ -n "${loaded:-}" ]; then
    diff=$(awk -v q="$quiet" -v l="$loaded" 'BEGIN { printf "%+.2f (%+.0f%%)", l - q, 100 * (l / q - 1) }')
  else
    diff="-"
  fi
  printf '%-9s  %-24s  %-24s  %s\n' "$mb MB" "${quiet:-failed} ${qname:-}" "${loaded:-failed} ${lname:-}" "$diff"
  unset qname quiet lname loaded
done
echo "reports: $dir" >&2
exit "$status"
