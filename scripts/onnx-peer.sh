#!/usr/bin/env bash
# ONNX Runtime and OpenVINO as peers: times them and every resnet-bench
# backend (and plan) in alternating pairs on the same network, weights, input
# and threads, and checks their logits agree. Arguments go to scripts/onnx_peer.py (see --help there); the release
# binary must already be built (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "onnx-peer: python3 has no pip; trying ensurepip" >&2
  python3 -m ensurepip --upgrade >&2 || { echo "onnx-peer: install pip for python3 (e.g. apt-get install python3-pip)" >&2; exit 2; }
fi
if ! python3 -c 'import numpy, onnx, onnxruntime, openvino' >/dev/null 2>&1; then
  echo "onnx-peer: installing numpy onnx onnxruntime openvino" >&2
  python3 -m pip install --quiet numpy onnx onnxruntime openvino >&2
fi

exec python3 scripts/onnx_peer.py "$@"
