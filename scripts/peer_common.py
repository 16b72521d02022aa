"""What the peer comparisons (onnx_peer.py, keras_peer.py) share: the machine
lock, the facts read from `resnet-bench env --json`, running resnet-bench and
reading its rows, timing a peer, the agreement measure, and the paired report.

Why pairs: the machine is shared and its speed drifts over minutes (other
work, turbo, memory placement). Timing the project and the peers alternately,
P Q P Q P Q, and dividing each P by the Q next to it cancels most of that
drift; the median of the per-pair ratios then ignores one disturbed pair.

numpy is imported inside the functions that need it: the scripts install
their packages only after their arguments have been checked.
"""

import argparse
import contextlib
import csv
import fcntl
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class ComparisonError(Exception):
    """The comparison could not be made (exit code 2); the message says why."""


class Logger:
    """Progress and problems go to stderr with the script's name; stdout
    carries only the report."""

    def __init__(self, name):
        self.name = name

    def __call__(self, message):
        print(f"{self.name}: {message}", file=sys.stderr, flush=True)


def install_missing(required, log):
    """Installs from PyPI the packages of `required` (import name -> PyPI
    name) that cannot be imported, so the scripts run on a fresh machine."""
    missing = [pypi for module, pypi in required.items() if importlib.util.find_spec(module) is None]
    if not missing:
        return
    log(f"installing {' '.join(missing)} from PyPI")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing])
    if result.returncode != 0:
        names = " ".join(missing)
        raise ComparisonError(f"could not install {names}: run `{sys.executable} -m pip install {names}`")
    importlib.invalidate_caches()


class ArgumentParser(argparse.ArgumentParser):
    """Reports a usage error as one line naming the problem (exit 2), like
    resnet-bench's, instead of argparse's usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


@contextlib.contextmanager
def machine_lock(path, log):
    """Holds the exclusive lock that builds on this machine take (flock(2), as
    `flock /tmp/swift-build.lock CMD` does), so that no timing overlaps a build
    or another benchmark, and the binary is not replaced mid-run."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {path} (held by a build or another benchmark)…")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


# --- facts from the tool ---------------------------------------------------

class ToolFacts:
    """The agreement rule and the model table as resnet-bench itself defines
    them, so that a peer is judged by the same numbers as the backends and
    the graphs built here have the shapes the binary runs."""

    def __init__(self, data, source):
        self.source = source
        try:
            agreement = data["agreement"]
            self.floor_fraction = float(agreement["errorFloorFraction"])
            self.tolerances = {kind: float(agreement["networkTolerance"][kind]) for kind in ("direct", "winograd")}
            self.top_k = int(agreement["topK"])
            self.models = {}
            for name, facts in data["models"].items():
                self.models[name] = {
                    "stageBlocks": [int(n) for n in facts["stageBlocks"]],
                    "bottleneck": bool(facts["bottleneck"]),
                    "groups": int(facts["groups"]),
                    "widthPerGroup": int(facts["widthPerGroup"]),
                    "batchNormEpsilon": float(facts["batchNormEpsilon"]),
                }
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ComparisonError(f"{source} lacks or mistypes a field the peers need ({type(e).__name__}: {e})")

    def tolerance(self, row_name):
        """The network tolerance resnet-bench applies to a row: Winograd's for
        the winograd backend, the direct methods' for every other."""
        return self.tolerances["winograd" if row_name == "winograd" else "direct"]

    def model(self, name):
        if name not in self.models:
            raise ComparisonError(f"unknown model '{name}'; {self.source} lists {', '.join(self.models)}")
        return self.models[name]


def read_tool_facts(binary, lock, log):
    """Runs `resnet-bench env --json` and returns its facts: the agreement
    rule and the model table are the binary's, never a copy kept here."""
    with machine_lock(lock, log):
        result = subprocess.run([str(binary), "env", "--json"], cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode == 0:
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError as e:
            raise ComparisonError(f"`{binary} env --json` printed no JSON object ({e})")
        return ToolFacts(data, "`resnet-bench env --json`")
    reason = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
    raise ComparisonError(f"`{binary} env --json` failed ({reason}); rebuild the binary (scripts/setup.sh)")


# --- resnet-bench ----------------------------------------------------------

def run_binary(args, log_path, prefix=()):
    """Runs resnet-bench from the repository root (where `run` looks for
    plans in results/), its output appended to `log_path`; returns the exit
    code. `prefix` goes before the command (e.g. taskset)."""
    args = [*prefix, *(str(a) for a in args)]
    with open(log_path, "ab") as out:
        out.write(("$ " + " ".join(args) + "\n").encode())
        out.flush()
        return subprocess.run(args, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT).returncode


def tail(path, lines=15):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def network_rows(csv_path):
    """resnet-bench's network-scope rows (one per backend, and 'plan'), in order."""
    with open(csv_path, newline="") as f:
        return [row for row in csv.DictReader(f) if row["scope"] == "network"]


def run_project(args, csv_path, log_path, log, prefix=()):
    """One P of a pair: a `resnet-bench run` process that writes `csv_path`.
    Returns (its network rows, whether its own Float64-reference check
    failed). Exit 1 means a row failed that check; it still writes its CSV."""
    csv_path.unlink(missing_ok=True)
    start = len(Path(log_path).read_text(errors="replace").splitlines()) if Path(log_path).exists() else 0
    code = run_binary(args, log_path, prefix)
    if code not in (0, 1) or not csv_path.is_file():
        raise ComparisonError(f"resnet-bench run exited {code}:\n{tail(log_path)}")
    # Pass on which plan `run` picked up and its warnings (e.g. a plan tuned
    # for another thread count); the rest stays in the log.
    for line in Path(log_path).read_text(errors="replace").splitlines()[start:]:
        if line.startswith(("using ", "warning:")):
            log(f"resnet-bench: {line}")
    rows = network_rows(csv_path)
    failing = [f"{r['candidate']} ({r['agreement']})" for r in rows if r.get("agreement") not in ("ok", "")]
    return rows, code == 1 or bool(failing)


def project_timings(rows):
    return [{"runtime": r["candidate"], "median_ms": float(r["median_ms"]), "p10_ms": float(r["p10_ms"]),
             "p90_ms": float(r["p90_ms"])} for r in rows]


def own_check_line(rows, failed, log_path):
    """One line on resnet-bench's own check of its rows against its Float64
    reference network."""
    if failed:
        failing = [f"{r['candidate']} ({r['agreement']})" for r in rows if r.get("agreement") not in ("ok", "")]
        return f"resnet-bench's own Float64-reference check FAILED: {', '.join(failing) or 'see ' + str(log_path)}"
    worst = max(rows, key=lambda r: float(r["max_error"] or 0))
    return (f"resnet-bench's own check: every row within its tolerance of the Float64 reference "
            f"(worst {worst['candidate']} {float(worst['max_error'] or 0):.1e})")


# --- timing a peer -----------------------------------------------------------

def summarize(times_ms):
    """Median, 10th and 90th percentile with linear interpolation between
    order statistics, as resnet-bench reports them."""
    import numpy as np
    p10, median, p90 = np.percentile(np.asarray(times_ms), [10, 50, 90])
    return {"median_ms": float(median), "p10_ms": float(p10), "p90_ms": float(p90)}


def time_calls(infer, warmup, repetitions):
    """Calls `infer()` `warmup` times untimed, then `repetitions` times timed;
    returns (timing summary, the last call's result)."""
    for _ in range(warmup):
        infer()
    times = []
    result = None
    for _ in range(repetitions):
        start = time.perf_counter()
        result = infer()
        times.append((time.perf_counter() - start) * 1e3)
    return summarize(times), result


# --- agreement ---------------------------------------------------------------

def relative_error(values, reference, facts):
    """max_i |a_i − b_i| / max(|b_i|, floor·max|b|), resnet-bench's measure;
    infinite if any value is not finite or the shapes differ."""
    import numpy as np
    a, b = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return float("inf")
    floor = max(facts.floor_fraction * float(np.max(np.abs(b))), float(np.finfo(np.float32).tiny))
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def top_k_equal(values, reference, facts, tolerance):
    """Every image's top-k classes equal the reference's, in order; a swap
    counts only if the reference logits of the two classes are further apart
    than the tolerance (a tie in the reference is no disagreement)."""
    import numpy as np
    for mine_row, ref_row in zip(np.asarray(values), np.asarray(reference)):
        mine = np.argsort(-mine_row, kind="stable")[:facts.top_k]
        theirs = np.argsort(-ref_row, kind="stable")[:facts.top_k]
        for a, b in zip(mine, theirs):
            if a != b:
                gap = abs(float(ref_row[a]) - float(ref_row[b]))
                if gap / max(abs(float(ref_row[b])), 1e-6) > tolerance:
                    return False
    return True


def agreement(values, reference, facts, tolerance):
    """Whether `values` agree with `reference`: (agrees, error, same top-k)."""
    error = relative_error(values, reference, facts)
    same = error != float("inf") and top_k_equal(values, reference, facts, tolerance)
    return error <= tolerance and same, error, same


def worst_agreement(label, per_pair, reference, facts, tolerance):
    """Checks the logits of every pair against `reference`; returns (whether
    all agree, one report line on the worst pair: the first that disagrees,
    else the one with the largest error)."""
    results = [agreement(values, reference, facts, tolerance) for values in per_pair]
    failing = [i for i, r in enumerate(results) if not r[0]]
    worst = failing[0] if failing else max(range(len(results)), key=lambda i: results[i][1])
    agrees, error, same = results[worst]
    which = (f"pair {worst + 1} of {len(results)}" if failing and len(results) > 1 else
             f"worst of {len(results)} pairs" if len(results) > 1 else "1 pair")
    return not failing, (f"agreement: {label} ({which}): max relative error {error:.2e} (limit {tolerance:.0e}), "
                         f"top-{facts.top_k} {'same' if same else 'DIFFERENT'} -> {'ok' if agrees else 'FAIL'}")


# --- the paired report -------------------------------------------------------

def pairs_text(n):
    return f"{n} pair" if n == 1 else f"{n} pairs"


def pair_rows(pair, peers, project, batch):
    """The rows of one pair: each peer's and each resnet-bench row's timing,
    images/s and ratio to the best (lowest-median) peer of this pair."""
    best = min(p["median_ms"] for p in peers)
    rows = []
    for kind, timings in (("peer", peers), ("resnet-bench", project)):
        for t in timings:
            rows.append({"pair": pair, "kind": kind, **t, "images_per_s": batch * 1e3 / t["median_ms"],
                         "ratio_to_best_peer": t["median_ms"] / best})
    return rows


def text_table(headers, cells, left):
    """Columns as wide as their widest cell, a rule under the headers; column
    `left` (the runtime names) aligned left, the numbers right."""
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(fields):
        return "  ".join(f.ljust(w) if i == left else f.rjust(w) for i, (f, w) in enumerate(zip(fields, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def format_table(rows):
    headers = ["pair", "runtime", "median ms", "p10 ms", "p90 ms", "img/s", "÷ best peer"]
    cells = [[str(r["pair"]), r["runtime"], f"{r['median_ms']:.2f}", f"{r['p10_ms']:.2f}", f"{r['p90_ms']:.2f}",
              f"{r['images_per_s']:.1f}", f"{r['ratio_to_best_peer']:.2f}"] for r in rows]
    return text_table(headers, cells, left=1)


def ratio_summary(rows):
    """Lines giving, for every resnet-bench row, its ratio to the best peer in
    each pair and the median of those, then the headline: the plan's, or the
    best backend's when no plan ran."""
    pairs = sorted({r["pair"] for r in rows})
    best_peers = []
    for p in pairs:
        peers = [r for r in rows if r["pair"] == p and r["kind"] == "peer"]
        best_peers.append(min(peers, key=lambda r: r["median_ms"])["runtime"])
    names = list(dict.fromkeys(r["runtime"] for r in rows if r["kind"] == "resnet-bench"))
    ratios = {n: [r["ratio_to_best_peer"] for r in rows if r["kind"] == "resnet-bench" and r["runtime"] == n]
              for n in names}
    medians = {n: statistics.median(v) for n, v in ratios.items()}
    width = max(len(n) for n in names)
    lines = [f"best peer of each pair: {', '.join(best_peers)}",
             "÷ best peer per pair, and their median:"]
    lines += [f"  {n.ljust(width)}  {''.join(f'{x:8.2f}' for x in ratios[n])}  -> {medians[n]:.2f}" for n in names]
    if "plan" in medians:
        name, note = "plan", ""
    else:
        name, note = min(medians, key=medians.get), "; the best backend, as no plan was given or found in results/"
    listed = ", ".join(f"{x:.2f}" for x in ratios[name])
    lines.append(f"{name} ÷ best peer = {medians[name]:.2f} "
                 f"(median of {pairs_text(len(ratios[name]))}: {listed}){note}")
    return lines


# The CSV columns of the pair mode, after the context's.
PAIR_COLUMNS = ["pair", "runtime", "median_ms", "p10_ms", "p90_ms", "images_per_s", "ratio_to_best_peer"]


def write_csv(path, rows, context, columns=PAIR_COLUMNS):
    """One CSV row per row, the `context` columns first, then `columns`."""
    fields = [*context, *columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**context, **row})
