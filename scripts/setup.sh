#!/usr/bin/env bash
# Installs what resnet-bench needs on a fresh Debian machine (the BLAS
# libraries its im2col backends bind to, and libhdf5 for Keras .h5 weights)
# and builds the release binary.
# Safe to run repeatedly: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in libopenblas-dev libblis-dev libhdf5-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >&2; then
    echo "setup: could not install ${missing[*]}; the backends and file formats that need them will report themselves unavailable" >&2
  fi
fi

swift build -c release >&2
