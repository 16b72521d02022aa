#!/usr/bin/env bash
# Set-up plus the whole test suite, in a release build (the kernels are too
# slow to test in a debug build; `swift test -c release` keeps @testable).
# The suite is XCTest plus one replay of the corpus through the libFuzzer
# targets. The closing line counts test cases (not assertion failures) and
# the fuzz replay: "N passed, M failed, K skipped; fuzz replay: ok".
# Under CI=true a test that would be skipped because something it needs is
# missing (the CLI binary, a BLAS library, libhdf5) fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The Keras tests write HDF5 files with h5py, as Keras users' files are written.
if ! python3 -c 'import h5py, numpy' >/dev/null 2>&1; then
  echo "test: installing h5py numpy from PyPI" >&2
  python3 -m pip install --quiet h5py numpy >&2 || echo "test: could not install h5py; the Keras HDF5 tests will say so" >&2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test -c release --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
fuzz="not run (arguments given)"
if [ $# -eq 0 ]; then
  echo "== fuzz targets: corpus replay"
  if scripts/fuzz.sh 0; then fuzz="ok"; else fuzz="FAILED"; status=1; fi
fi
passed=$(grep -cE "^Test Case '.*' passed" "$log" || true)
failed=$(grep -cE "^Test Case '.*' failed" "$log" || true)
skipped=$(grep -cE "^Test Case '.*' skipped" "$log" || true)
if ! grep -qE "^[[:space:]]*Executed [0-9]+ tests?" "$log"; then
  echo "the test run did not complete (build failure or crash); see above"
  status=1
fi
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed, $skipped skipped; fuzz replay: $fuzz"
exit $status
