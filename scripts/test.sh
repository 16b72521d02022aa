#!/usr/bin/env bash
# Set-up plus the whole test suite, in a release build (the kernels are too
# slow to test in a debug build; `swift test -c release` keeps @testable).
# The suite is XCTest plus a replay of the corpus through the libFuzzer
# targets; the closing line restates the XCTest counts plainly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test -c release --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
# The libFuzzer targets replay the bad-input corpus and the valid seeds once
# (deterministic, about 30 s with their build): a parser change that breaks a
# round trip, or a target that no longer builds, fails here.
if [ $# -eq 0 ]; then
  echo "== fuzz targets: corpus replay"
  scripts/fuzz.sh 0 || status=1
fi
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
  total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
  echo "$((total - failed)) passed, $failed failed"
fi
exit $status
