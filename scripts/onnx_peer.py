#!/usr/bin/env python3
"""How resnet-bench's backends compare with a production runtime, ONNX Runtime,
on the same ResNet, weights, input image and thread count.

Steps:
  1. `resnet-bench export-weights` writes the seeded network as safetensors
     (torchvision state_dict keys, OIHW, BatchNorm unfolded).
  2. The same file is turned into an ONNX graph here, without PyTorch:
     BatchNorm is folded into each convolution's weights and bias (in float64,
     then rounded once to float32), so the graph holds only Conv, Relu, Add,
     MaxPool, GlobalAveragePool, Flatten and Gemm.
  3. A seeded standard-normal NHWC float32 image is saved as .npy.
  4. ONNX Runtime (CPU, intra-op threads = --threads, one inter-op thread,
     sequential execution, every graph optimisation) is warmed up and timed.
  5. `resnet-bench run` times every backend (and a plan, when one is given or
     found in results/) on the same weights, image and threads.
  6. One table compares them, followed by how closely ONNX Runtime's logits
     agree with resnet-bench's.

The ONNX graph takes the NHWC tensor that resnet-bench reads and transposes it
to NCHW as its first node. Both runtimes are thus timed from identical input
bytes, and the layout change counts in ONNX Runtime's time just as
resnet-bench's own layout handling counts in its.

Timings share a 2-core machine with builds, so every resnet-bench invocation
and every ONNX Runtime timing holds the lock that builds take (an exclusive
flock(2) on --lock, the same lock `flock /tmp/swift-build.lock CMD` takes).

Exit codes: 0 when ONNX Runtime agrees with resnet-bench; 1 when the logits
differ by more than 1e-3 (relative, with a floor) or the top-5 classes differ,
or when resnet-bench's own check against its Float64 reference fails; 2 on a
usage or input error, or when the comparison could not be run.
"""

import argparse
import contextlib
import csv
import fcntl
import importlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Blocks per stage, as in the ResNet paper; 18 and 34 use basic blocks, the
# deeper ones bottlenecks.
DEPTHS = {
    "resnet18": (2, 2, 2, 2),
    "resnet34": (3, 4, 6, 3),
    "resnet50": (3, 4, 6, 3),
    "resnet101": (3, 4, 23, 3),
    "resnet152": (3, 8, 36, 3),
}
BOTTLENECK_MODELS = {"resnet50", "resnet101", "resnet152"}
VARIANTS = ("v1.5", "v1")
BN_EPS = 1e-5

# Agreement thresholds: the relative error's floor is this fraction of the
# largest reference logit, so near-zero logits do not blow the ratio up.
FLOOR_FRACTION = 1e-2
MAX_RELATIVE_ERROR = 1e-3
TOP_K = 5

# Import name -> PyPI name of what the script needs beyond the standard library.
REQUIRED_PACKAGES = {"numpy": "numpy", "onnx": "onnx", "onnxruntime": "onnxruntime"}
ONNX_OPSET = 17
# The IR version that goes with opset 17, so older ONNX Runtimes load the graph too.
ONNX_IR_VERSION = 8

# Bound by load_packages(): they may have to be installed first, which must
# not happen before the arguments have been checked.
np = onnx = ort = None


class ComparisonError(Exception):
    """The comparison could not be made (exit code 2); the message says why."""


def log(message):
    print(f"onnx-peer: {message}", file=sys.stderr, flush=True)


def load_packages():
    """Imports numpy, onnx and onnxruntime, installing the missing ones from
    PyPI first so the script runs on a fresh machine."""
    global np, onnx, ort
    missing = [pypi for module, pypi in REQUIRED_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        log(f"installing {' '.join(missing)} from PyPI")
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing])
        if result.returncode != 0:
            raise ComparisonError(f"could not install {' '.join(missing)}: run `{sys.executable} -m pip install {' '.join(missing)}`")
        importlib.invalidate_caches()
    import numpy
    import onnx as onnx_module
    import onnxruntime
    np, onnx, ort = numpy, onnx_module, onnxruntime


@contextlib.contextmanager
def machine_lock(path):
    """Holds the exclusive lock that builds on this machine take, so that no
    timing overlaps a build (and the binary is not replaced mid-run)."""
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


# --- weights ---------------------------------------------------------------

def read_safetensors(path):
    """Returns (tensors, metadata) from a safetensors file: an 8-byte
    little-endian header length, a JSON header giving each tensor's dtype,
    shape and byte range, then the raw little-endian data."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ComparisonError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ComparisonError(f"{path}: header length {header_len} exceeds the file")
    header = json.loads(data[8:8 + header_len])
    metadata = header.pop("__metadata__", {})
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ComparisonError(f"{path}: {name} is {info['dtype']}; resnet-bench exports F32 only")
        start, end = info["data_offsets"]
        count = (end - start) // 4
        shape = tuple(info["shape"])
        if count != int(np.prod(shape)) or base + end > len(data):
            raise ComparisonError(f"{path}: {name}'s byte range does not fit its shape {list(shape)}")
        tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=base + start).reshape(shape)
    return tensors, metadata


def block_structure(tensors, model):
    """Returns (blocks per stage, bottleneck?) as the keys describe them, after
    checking them against the depth table of `model`."""
    stages = []
    for stage in range(1, 5):
        count = 0
        while f"layer{stage}.{count}.conv1.weight" in tensors:
            count += 1
        stages.append(count)
    bottleneck = "layer1.0.conv3.weight" in tensors
    expected = DEPTHS[model]
    if tuple(stages) != expected or bottleneck != (model in BOTTLENECK_MODELS):
        kind = "bottleneck" if bottleneck else "basic"
        raise ComparisonError(f"weights hold {kind} blocks {stages}; {model} has {list(expected)}")
    return stages, bottleneck


# --- ONNX graph ------------------------------------------------------------

class GraphBuilder:
    """Accumulates nodes and initializers of a ResNet graph in NCHW."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.nodes = []
        self.initializers = []

    def node(self, op, inputs, name, **attributes):
        self.nodes.append(onnx.helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def constant(self, name, array):
        self.initializers.append(onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def conv_bn(self, x, conv, bn, stride, relu):
        """Convolution `conv` with BatchNorm `bn` folded into it, padded to keep
        'same' geometry (k // 2), optionally followed by ReLU."""
        w = self.tensors[f"{conv}.weight"].astype(np.float64)
        gamma, beta, mean, var = (self.tensors[f"{bn}.{k}"].astype(np.float64)
                                  for k in ("weight", "bias", "running_mean", "running_var"))
        scale = gamma / np.sqrt(var + BN_EPS)
        weight = self.constant(f"{conv}.weight", w * scale[:, None, None, None])
        bias = self.constant(f"{conv}.bias", beta - mean * scale)
        kh, kw = w.shape[2:]
        y = self.node("Conv", [x, weight, bias], conv, kernel_shape=[kh, kw], strides=[stride, stride],
                      pads=[kh // 2, kw // 2, kh // 2, kw // 2])
        return self.node("Relu", [y], f"{conv}.relu") if relu else y

    def block(self, x, prefix, stride, bottleneck, variant):
        """One residual block: the main path, the shortcut (a 1×1 projection
        when the weights have one), their sum, then ReLU."""
        if bottleneck:
            # v1.5 strides on the 3×3 conv2; v1 on the 1×1 conv1.
            s1, s2 = (1, stride) if variant == "v1.5" else (stride, 1)
            y = self.conv_bn(x, f"{prefix}.conv1", f"{prefix}.bn1", s1, relu=True)
            y = self.conv_bn(y, f"{prefix}.conv2", f"{prefix}.bn2", s2, relu=True)
            y = self.conv_bn(y, f"{prefix}.conv3", f"{prefix}.bn3", 1, relu=False)
        else:
            y = self.conv_bn(x, f"{prefix}.conv1", f"{prefix}.bn1", stride, relu=True)
            y = self.conv_bn(y, f"{prefix}.conv2", f"{prefix}.bn2", 1, relu=False)
        shortcut = x
        if f"{prefix}.downsample.0.weight" in self.tensors:
            shortcut = self.conv_bn(x, f"{prefix}.downsample.0", f"{prefix}.downsample.1", stride, relu=False)
        total = self.node("Add", [y, shortcut], f"{prefix}.add")
        return self.node("Relu", [total], f"{prefix}.out")


def build_onnx_model(tensors, model, variant, batch, size):
    """The ResNet as an ONNX model: NHWC float32 input 'input' [batch, size,
    size, 3], float32 output 'logits' [batch, classes]."""
    stages, bottleneck = block_structure(tensors, model)
    classes = tensors["fc.weight"].shape[0]
    g = GraphBuilder(tensors)
    x = g.node("Transpose", ["input"], "to_nchw", perm=[0, 3, 1, 2])
    x = g.conv_bn(x, "conv1", "bn1", 2, relu=True)
    x = g.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for stage, blocks in enumerate(stages, start=1):
        for i in range(blocks):
            stride = 2 if stage > 1 and i == 0 else 1
            x = g.block(x, f"layer{stage}.{i}", stride, bottleneck, variant)
    x = g.node("GlobalAveragePool", [x], "avgpool")
    x = g.node("Flatten", [x], "flatten", axis=1)
    fc_w = g.constant("fc.weight", tensors["fc.weight"])
    fc_b = g.constant("fc.bias", tensors["fc.bias"])
    g.node("Gemm", [x, fc_w, fc_b], "logits", transB=1)
    graph = onnx.helper.make_graph(
        g.nodes, f"{model}_{variant}",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [batch, size, size, 3])],
        [onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [batch, classes])],
        g.initializers)
    onnx_model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
                                        producer_name="resnet-bench onnx-peer")
    onnx_model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(onnx_model)
    return onnx_model


# --- timing ----------------------------------------------------------------

def summarize(times_ms):
    """Median, 10th and 90th percentile with linear interpolation between
    order statistics, as resnet-bench reports them."""
    p10, median, p90 = np.percentile(np.asarray(times_ms), [10, 50, 90])
    return {"median_ms": float(median), "p10_ms": float(p10), "p90_ms": float(p90)}


def ort_session(onnx_model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def time_ort(session, image, warmup, repetitions):
    """Returns (timing summary, logits of the last run)."""
    feed = {"input": image}
    for _ in range(warmup):
        session.run(["logits"], feed)
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        (logits,) = session.run(["logits"], feed)
        times.append((time.perf_counter() - start) * 1e3)
    return summarize(times), logits


# --- resnet-bench ----------------------------------------------------------

def run_binary(args, log_path):
    """Runs resnet-bench from the repository root (where `run` looks for
    plans in results/), its output kept in `log_path`; returns the exit code."""
    args = [str(a) for a in args]
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


# --- agreement -------------------------------------------------------------

def relative_error(values, reference):
    """max_i |a_i − b_i| / max(|b_i|, 0.01·max|b|); infinite if any value is
    not finite."""
    a, b = values.astype(np.float64), reference.astype(np.float64)
    if not np.all(np.isfinite(a)):
        return float("inf")
    floor = max(FLOOR_FRACTION * float(np.max(np.abs(b))), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def top5_equal(values, reference):
    """Every image's top-5 classes equal the reference's, in order; a swap
    counts only if the reference logits of the two classes are further apart
    than the tolerance (a tie in the reference is no disagreement)."""
    for mine_row, ref_row in zip(values, reference):
        mine = np.argsort(-mine_row, kind="stable")[:TOP_K]
        theirs = np.argsort(-ref_row, kind="stable")[:TOP_K]
        for a, b in zip(mine, theirs):
            if a != b:
                gap = abs(float(ref_row[a]) - float(ref_row[b]))
                if gap / max(abs(float(ref_row[b])), 1e-6) > MAX_RELATIVE_ERROR:
                    return False
    return True


# --- report ----------------------------------------------------------------

def format_table(rows):
    headers = ["runtime", "median ms", "p10 ms", "p90 ms", "img/s", "÷ ORT"]
    cells = [[r["runtime"], f"{r['median_ms']:.2f}", f"{r['p10_ms']:.2f}", f"{r['p90_ms']:.2f}",
              f"{r['images_per_s']:.1f}", f"{r['ratio_to_ort']:.2f}"] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(fields):
        return "  ".join(f.ljust(w) if i == 0 else f.rjust(w) for i, (f, w) in enumerate(zip(fields, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def write_csv(path, rows, context):
    fields = [*context, "runtime", "median_ms", "p10_ms", "p90_ms", "images_per_s", "ratio_to_ort"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**context, **{k: row[k] for k in fields if k in row}})


# --- main ------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time ONNX Runtime and every resnet-bench backend (and plan) on the same ResNet, "
                    "weights, input and threads; print one table and check that the logits agree.",
        epilog="Exit codes: 0 agreement; 1 logits or top-5 differ (or resnet-bench's own check failed); "
               "2 usage or input error.")
    parser.add_argument("--model", default="resnet50", choices=sorted(DEPTHS, key=lambda m: int(m[6:])))
    parser.add_argument("--variant", default="v1.5", choices=VARIANTS,
                        help="v1.5: stride on a bottleneck's 3×3 (torchvision); v1: on its first 1×1")
    parser.add_argument("--size", type=int, default=224, help="input height and width (at least 32)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for ONNX Runtime (intra-op) and resnet-bench (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the input image")
    parser.add_argument("--repetitions", type=int, default=30,
                        help="timed inferences per runtime (resnet-bench caps its naive backend at 3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed inferences per runtime first")
    parser.add_argument("--binary", type=Path, default=REPO_ROOT / ".build/release/resnet-bench",
                        help="resnet-bench executable (default: the repository's release build)")
    parser.add_argument("--workdir", type=Path,
                        help="keep weights, input, logits, CSV and log here (default: a temporary "
                             "directory, removed unless something fails)")
    parser.add_argument("--plan", type=Path, help="a plan from `resnet-bench tune`, passed to `run`")
    parser.add_argument("--backends", default="all",
                        help="resnet-bench backends, comma-separated, or 'all'; the first one's logits are "
                             "what ONNX Runtime's are checked against (with 'all', naive: the most exact)")
    parser.add_argument("--csv", type=Path, help="also write the table as CSV to this file")
    parser.add_argument("--lock", type=Path, default=Path("/tmp/swift-build.lock"),
                        help="lock file that builds on this machine hold; timings wait for it")
    args = parser.parse_args(argv)
    for name, least in (("size", 32), ("batch", 1), ("classes", 1), ("threads", 1), ("repetitions", 1),
                        ("warmup", 0)):
        if getattr(args, name) < least:
            parser.error(f"--{name} must be at least {least}")
    if not os.access(args.binary, os.X_OK):
        parser.error(f"--binary {args.binary}: not an executable (build it with `swift build -c release`)")
    if args.plan is not None and not args.plan.is_file():
        parser.error(f"--plan {args.plan}: no such file")
    return args


def compare(args, workdir):
    """Does the measuring and prints the report; returns the exit code."""
    binary = args.binary.resolve()
    weights = workdir / "weights.safetensors"
    image_path = workdir / "input.npy"
    bench_csv = workdir / "resnet-bench.csv"
    bench_logits = workdir / "resnet-bench-logits.npy"
    bench_log = workdir / "resnet-bench.log"
    # A reused --workdir must not hand an earlier run's results to this one.
    for stale in (bench_csv, bench_logits, bench_log):
        stale.unlink(missing_ok=True)

    log(f"exporting {args.model} {args.variant} weights (seed {args.seed})")
    with machine_lock(args.lock):
        code = run_binary([binary, "export-weights", "--model", args.model, "--variant", args.variant,
                           "--classes", args.classes, "--seed", args.seed, weights], bench_log)
    if code != 0:
        raise ComparisonError(f"resnet-bench export-weights exited {code}:\n{tail(bench_log)}")

    image = np.random.default_rng(args.seed).standard_normal(
        (args.batch, args.size, args.size, 3), dtype=np.float32)
    np.save(image_path, image)

    tensors, metadata = read_safetensors(weights)
    if metadata.get("variant", args.variant) != args.variant:
        raise ComparisonError(f"{weights} holds a {metadata['variant']} network, not {args.variant}")
    onnx_model = build_onnx_model(tensors, args.model, args.variant, args.batch, args.size)
    onnx.save(onnx_model, workdir / f"{args.model}.onnx")
    session = ort_session(onnx_model, args.threads)
    del tensors, onnx_model

    bench_args = [binary, "run", "--model", args.model, "--variant", args.variant, "--batch", args.batch,
                  "--size", args.size, "--classes", args.classes, "--threads", args.threads,
                  "--backends", args.backends, "--repetitions", args.repetitions, "--warmup", args.warmup,
                  "--weights", weights, "--input", image_path, "--csv", bench_csv, "--dump-logits", bench_logits]
    if args.plan is not None:
        bench_args += ["--plan", args.plan.resolve()]

    # Both timings under one hold of the lock: the same machine state for both.
    with machine_lock(args.lock):
        log(f"timing ONNX Runtime {ort.__version__} ({args.warmup} warm-up, {args.repetitions} timed, "
            f"{args.threads} threads)")
        ort_timing, ort_logits = time_ort(session, image, args.warmup, args.repetitions)
        del session  # joins its thread pool so no idle ORT thread competes with resnet-bench
        log(f"running resnet-bench run --backends {args.backends} (log: {bench_log})")
        code = run_binary(bench_args, bench_log)
    # 1 means a backend failed resnet-bench's own check; it still writes its CSV.
    if code not in (0, 1) or not bench_csv.is_file():
        raise ComparisonError(f"resnet-bench run exited {code}:\n{tail(bench_log)}")
    bench_check_failed = code == 1
    # Pass on which plan `run` picked up and its warnings (e.g. a plan tuned
    # for another thread count); the rest stays in the log.
    for line in Path(bench_log).read_text(errors="replace").splitlines():
        if line.startswith(("using ", "warning:")):
            log(f"resnet-bench: {line}")

    rows = [{"runtime": f"ONNX Runtime {ort.__version__}", **ort_timing}]
    bench_rows = network_rows(bench_csv)
    for r in bench_rows:
        rows.append({"runtime": r["candidate"], "median_ms": float(r["median_ms"]),
                     "p10_ms": float(r["p10_ms"]), "p90_ms": float(r["p90_ms"])})
    for r in rows:
        r["images_per_s"] = args.batch * 1e3 / r["median_ms"]
        r["ratio_to_ort"] = r["median_ms"] / ort_timing["median_ms"]

    reference = np.load(bench_logits)
    first_backend = bench_rows[0]["candidate"]
    error = relative_error(ort_logits, reference)
    same_top5 = top5_equal(ort_logits, reference)
    agrees = error <= MAX_RELATIVE_ERROR and same_top5

    print(f"{args.model} {args.variant}, batch {args.batch}, {args.size}×{args.size}, {args.threads} threads, "
          f"seed {args.seed}, {args.repetitions} timed runs each (median; ÷ ORT = latency ÷ ONNX Runtime's)")
    print(format_table(rows))
    print(f"agreement: ONNX Runtime vs resnet-bench ({first_backend}): max relative error {error:.2e} "
          f"(limit {MAX_RELATIVE_ERROR:.0e}), top-5 {'same' if same_top5 else 'DIFFERENT'} "
          f"-> {'ok' if agrees else 'FAIL'}")
    failing = [f"{r['candidate']} ({r['agreement']})" for r in bench_rows if r.get("agreement") not in ("ok", "")]
    if bench_check_failed or failing:
        print(f"resnet-bench's own Float64-reference check FAILED: {', '.join(failing) or 'see ' + str(bench_log)}")
    else:
        worst = max(bench_rows, key=lambda r: float(r["max_error"] or 0))
        print(f"resnet-bench's own check: every row within its tolerance of the Float64 reference "
              f"(worst {worst['candidate']} {float(worst['max_error']):.1e})")
    plan_row = next((r for r in rows[1:] if r["runtime"] == "plan"), None)
    if plan_row is not None:
        print(f"tuned plan ÷ ONNX Runtime = {plan_row['ratio_to_ort']:.2f} (same threads)")
    else:
        best = min(rows[1:], key=lambda r: r["median_ms"])
        print(f"best backend ({best['runtime']}) ÷ ONNX Runtime = {best['ratio_to_ort']:.2f} "
              f"(same threads; no plan given or found in results/)")

    if args.csv is not None:
        context = {"model": args.model, "variant": args.variant, "batch": args.batch, "input_size": args.size,
                   "threads": args.threads}
        write_csv(args.csv, rows, context)
        log(f"wrote {len(rows)} rows to {args.csv}")
    return 0 if agrees and not bench_check_failed else 1


def main(argv=None):
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="onnx-peer-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    code = 2
    try:
        load_packages()
        code = compare(args, workdir)
    except ComparisonError as e:
        log(str(e))
    except Exception:
        # Exit 1 is reserved for a disagreement, so a crash must not end with
        # Python's default status 1.
        traceback.print_exc()
    finally:
        if args.workdir is None:
            if code == 0:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                log(f"kept the files in {workdir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
