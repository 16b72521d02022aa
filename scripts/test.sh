#!/usr/bin/env bash
# Set-up plus the whole test suite, in a release build (the kernels are too
# slow to test in a debug build; `swift test -c release` keeps @testable).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test -c release "$@"
