#!/usr/bin/env python3
"""A bounded memory-streaming neighbour for robustness runs: copies between
two buffers of MB megabytes in a loop, pinned to one core, the way another
tenant's memory-bound job shares the cache and the memory bus with a timed
one on the core next to it.

Usage: memory_neighbour.py MB SECONDS CORE

It stops by itself after SECONDS, on SIGTERM, or when the process that
started it is gone, so a crashed comparison leaves no load behind. It prints
"ready" once both buffers are allocated and touched (the copying starts right
after), and on stopping one line: passes, seconds and GB/s copied.
"""

import os
import signal
import sys
import time

import numpy as np


def main(argv):
    if len(argv) != 3:
        print("usage: memory_neighbour.py MB SECONDS CORE", file=sys.stderr)
        return 2
    megabytes, seconds, core = int(argv[0]), float(argv[1]), int(argv[2])
    os.sched_setaffinity(0, {core})
    parent = os.getppid()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))

    source = np.ones(megabytes << 20, dtype=np.uint8)
    target = np.zeros_like(source)  # written below, so every page is touched
    np.copyto(target, source)
    print("ready", flush=True)

    start = time.monotonic()
    deadline = start + seconds
    passes = 0
    while not stop and time.monotonic() < deadline and os.getppid() == parent:
        np.copyto(target, source)
        source, target = target, source
        passes += 1
    elapsed = time.monotonic() - start
    rate = passes * source.nbytes / max(elapsed, 1e-9) / 1e9
    print(f"{passes} passes in {elapsed:.1f} s, {rate:.1f} GB/s copied", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
