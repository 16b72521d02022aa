#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (one per parser of user input) with
# libFuzzer + AddressSanitizer and runs each for SECONDS (default 60), seeded
# with the committed bad-input corpus (Tests/Corpus/<parser>) and the valid
# seeds (Fuzz/Seeds/<parser>). Prints one summary line per target: executions,
# coverage and findings. Exit 1 if any target finds a crash, a trap or a leak;
# the input is kept as crash-<target>-* in the working folder.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   TARGET is one of: descriptor csv safetensors npy plan results batch (default: all)
#   SECONDS 0 replays the corpus and seeds once without mutating them (what
#   scripts/test.sh runs: it is deterministic and keeps the targets building).
#
# The build is the release configuration the tool ships in: every module but
# the kernels keeps Swift's bounds and overflow checks (Package.swift), so
# what is fuzzed is what `resnet-bench` runs, and an arithmetic overflow in a
# parser is a finding rather than silent garbage.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(descriptor csv safetensors npy plan results batch)
case $seconds in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2;; esac

product() {
  case $1 in
    descriptor) echo FuzzDescriptor;; csv) echo FuzzCSV;; safetensors) echo FuzzSafetensors;;
    npy) echo FuzzNpy;; plan) echo FuzzPlan;; results) echo FuzzResults;; batch) echo FuzzBatch;;
    *) echo "fuzz.sh: unknown target '$1' (descriptor, csv, safetensors, npy, plan, results, batch)" >&2; exit 2;;
  esac
}
for t in "${targets[@]}"; do product "$t" >/dev/null; done

# `--sanitize=fuzzer` makes SwiftPM link libFuzzer's main instead of the
# target's own; the combined -Xswiftc flag is what instruments every module
# for coverage (SwiftPM's two separate --sanitize flags reach the compiler
# as address only: the objects then carry no coverage counters).
build=(swift build -c release --package-path Fuzz --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address
       -Xswiftc -sanitize=fuzzer,address)
# SwiftPM's incremental build of this package misses modules and files added
# to the main package since .build-fuzz was made ("no such module", "cannot
# find ... in scope"); a failed build is therefore retried once from scratch
# before it counts.
for t in "${targets[@]}"; do
  echo "== building $(product "$t")" >&2
  if ! log=$("${build[@]}" --product "$(product "$t")" 2>&1); then
    echo "fuzz.sh: building $(product "$t") failed; retrying with an empty .build-fuzz" >&2
    rm -rf .build-fuzz
    if ! log=$("${build[@]}" --product "$(product "$t")" 2>&1); then
      echo "$log" | grep -v "ld.gold: warning" | tail -20 >&2
      echo "fuzz.sh: building $(product "$t") failed" >&2; exit 2
    fi
  fi
done
bin=$("${build[@]}" --show-bin-path)

# Swift's own crash backtracer reads memory ASan then reports as a second
# error; libFuzzer's stack trace is the one wanted here.
export SWIFT_BACKTRACE=enable=no
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
printf '%-12s %10s %8s %8s  %s\n' target executions exec/s coverage result
for t in "${targets[@]}"; do
  exe="$bin/$(product "$t")"
  [ -x "$exe" ] || { echo "fuzz.sh: $exe was not built" >&2; status=1; continue; }
  mkdir -p "$work/$t"
  cp Tests/Corpus/"$t"/* "$work/$t/"
  if compgen -G "Fuzz/Seeds/$t/*" >/dev/null; then cp Fuzz/Seeds/"$t"/* "$work/$t/"; fi
  result=clean
  if [ "$seconds" -eq 0 ]; then budget=(-runs=0); else budget=(-max_total_time="$seconds"); fi
  if ! "$exe" "${budget[@]}" -timeout=10 -rss_limit_mb=4096 -dict="Fuzz/Dictionaries/$t.dict" \
        -artifact_prefix="$PWD/crash-$t-" "$work/$t" >"$work/$t.log" 2>&1; then
    status=1; result="FINDING (see crash-$t-*)"
    grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$work/$t.log" | head -5 >&2
  fi
  done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$work/$t.log" | tail -1 || true)
  runs=$(grep -oE "^Done [0-9]+ runs" "$work/$t.log" | grep -oE "[0-9]+" || echo "?")
  speed=$(echo "$done_line" | grep -oE "exec/s: [0-9]+" | grep -oE "[0-9]+" || echo "?")
  cov=$(echo "$done_line" | grep -oE "cov: [0-9]+" | grep -oE "[0-9]+" || echo "?")
  printf '%-12s %10s %8s %8s  %s\n' "$t" "$runs" "$speed" "$cov" "$result"
done
exit $status
