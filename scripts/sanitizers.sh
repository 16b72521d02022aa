#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and under ThreadSanitizer, each in
# its own build folder (.build-asan, .build-tsan). Exit 0 only if both pass.
# Toolchain-owned leaks are suppressed by scripts/lsan-suppressions.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
echo "== AddressSanitizer" >&2
LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt" \
  swift test -c release --sanitize=address --disable-swift-testing --scratch-path .build-asan "$@" || status=1
echo "== ThreadSanitizer" >&2
swift test -c release --sanitize=thread --disable-swift-testing --scratch-path .build-tsan "$@" || status=1
exit $status
