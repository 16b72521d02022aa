#!/usr/bin/env bash
# Builds each libFuzzer target in Fuzz/ and runs it for SECONDS (default 60),
# seeded with the committed corpus. Exit 1 if any target finds a crash.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
run() {  # name, corpus folder, sources...
  local name=$1 seeds=$2; shift 2
  swiftc -sanitize=fuzzer,address -parse-as-library -O "$@" -o "$work/$name" 2>/dev/null
  mkdir -p "$work/$name-corpus"
  cp "$seeds"/* "$work/$name-corpus/"
  echo "== $name ($seconds s)" >&2
  if ! "$work/$name" -max_total_time="$seconds" -artifact_prefix="$PWD/crash-$name-" "$work/$name-corpus" 2>"$work/$name.log"; then
    status=1; tail -20 "$work/$name.log" >&2
  fi
  grep -E "^(Done|#[0-9]+ *DONE)" "$work/$name.log" | tail -1 >&2 || tail -1 "$work/$name.log" >&2
}
run descriptor Tests/Corpus/descriptor Sources/ConvCore/*.swift Fuzz/DescriptorFuzzer.swift
run csv Tests/Corpus/csv Sources/Harness/CSV.swift Fuzz/CSVFuzzer.swift
exit $status
