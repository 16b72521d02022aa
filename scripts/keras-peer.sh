#!/usr/bin/env bash
# TensorFlow and TFLite (XNNPACK) as peers: builds Keras's ResNet-50 with
# seeded weights, writes them as a keras.applications .h5 file, times the
# peers and every resnet-bench backend (and plan) on it in alternating pairs
# with the same input and threads, and checks resnet-bench's logits against
# TensorFlow's. Arguments go to scripts/keras_peer.py (see --help there); the
# release binary must already be built (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "keras-peer: python3 has no pip; trying ensurepip" >&2
  python3 -m ensurepip --upgrade >&2 || { echo "keras-peer: install pip for python3 (e.g. apt-get install python3-pip)" >&2; exit 2; }
fi
if ! python3 -c 'import numpy, h5py, tensorflow' >/dev/null 2>&1; then
  echo "keras-peer: installing numpy h5py tensorflow-cpu" >&2
  python3 -m pip install --quiet numpy h5py tensorflow-cpu >&2
fi

exec python3 scripts/keras_peer.py "$@"
