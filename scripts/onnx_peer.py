#!/usr/bin/env python3
"""How resnet-bench's backends compare with two production runtimes, ONNX
Runtime and OpenVINO, on the same ResNet (or ResNeXt, Wide ResNet), weights,
input image and thread count.

Steps:
  1. `resnet-bench env --json` gives the agreement rule (tolerances, error
     floor, top-k) and the model table (blocks per stage, groups, width per
     group, BatchNorm epsilon), so both are the binary's and not a copy.
  2. `resnet-bench export-weights` writes the seeded network as safetensors
     (torchvision state_dict keys, OIHW, BatchNorm unfolded).
  3. The same file is turned into one ONNX graph here, without PyTorch:
     BatchNorm is folded into each convolution's weights and bias (in float64,
     then rounded once to float32), so the graph holds only Conv (grouped for
     ResNeXt), Relu, Add, MaxPool, GlobalAveragePool, Flatten and Gemm.
  4. A seeded standard-normal NHWC float32 image is saved as .npy.
  5. Pairs, P Q P Q P Q: P is one `resnet-bench run` process timing every
     backend (and a plan, given or found in results/); Q is ONNX Runtime, then
     OpenVINO, each set up on the graph, warmed up and timed in this process.
  6. One table: every runtime in every pair with its ratio to the best peer of
     that pair; each resnet-bench row's per-pair ratios and their median; and
     how closely each peer's logits agree with resnet-bench's.

Peer settings. ONNX Runtime: CPU, intra-op threads = --threads, one inter-op
thread, sequential execution, every graph optimisation. OpenVINO: CPU,
INFERENCE_NUM_THREADS = --threads, PERFORMANCE_HINT = LATENCY, NUM_STREAMS = 1,
INFERENCE_PRECISION_HINT = f32 (its CPU plugin would otherwise run bf16 where
the processor has it, which is another computation, not a faster one). Each
peer is set up afresh in every Q and released after its timing, so no idle
peer thread competes with the next measurement.

The ONNX graph takes the NHWC tensor that resnet-bench reads and transposes it
to NCHW as its first node. All runtimes are thus timed from identical input
bytes, and the layout change counts in the peers' time just as resnet-bench's
own layout handling counts in its.

With --neighbour MB (or --single-core) the run is a one-thread robustness
run: resnet-bench (taskset) and the peers (this process) are pinned to core 0
with one thread, and with MB > 0 a memory-streaming load (memory_neighbour.py)
runs on the last core during every P and Q. scripts/neighbour-peer.sh compares
quiet and loaded runs.

Timings share a 2-core machine with builds, so every P and every Q holds the
lock that builds take (--lock, the one `flock /tmp/swift-build.lock CMD` takes).

Exit codes: 0 when both peers agree with resnet-bench; 1 when a peer's logits
differ beyond the network tolerance or its top-k classes differ, or when
resnet-bench's own check against its Float64 reference fails; 2 on a usage or
input error, or when the comparison could not be run.
"""

import contextlib
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

from peer_common import (REPO_ROOT, ArgumentParser, ComparisonError, Logger, format_table, install_missing,
                         machine_lock, own_check_line, pair_rows, pairs_text, project_timings, ratio_summary,
                         read_tool_facts, run_binary, run_project, tail, time_calls, worst_agreement, write_csv)

VARIANTS = ("v1.5", "v1")
# Import name -> PyPI name of what the script needs beyond the standard library.
REQUIRED_PACKAGES = {"numpy": "numpy", "onnx": "onnx", "onnxruntime": "onnxruntime", "openvino": "openvino"}
ONNX_OPSET = 17
# The IR version that goes with opset 17, so older runtimes load the graph too.
ONNX_IR_VERSION = 8
NEIGHBOUR_SCRIPT = Path(__file__).resolve().parent / "memory_neighbour.py"
# The memory load stops by itself after the phase's expected length and this
# margin. The first pair's length is not known yet, so its bound is fixed; the
# load also stops as soon as this process is gone.
NEIGHBOUR_MARGIN = (1.5, 30.0)  # × the same phase's last duration, + seconds
NEIGHBOUR_FIRST_BOUND_S = 1800.0

# Bound by load_packages(): they may have to be installed first, which must
# not happen before the arguments have been checked.
np = onnx = ort = ov = None
log = Logger("onnx-peer")


def load_packages():
    """Imports numpy, onnx, onnxruntime and openvino, installing the missing
    ones from PyPI first so the script runs on a fresh machine."""
    global np, onnx, ort, ov
    install_missing(REQUIRED_PACKAGES, log)
    import numpy
    import onnx as onnx_module
    import onnxruntime
    import openvino
    np, onnx, ort, ov = numpy, onnx_module, onnxruntime, openvino


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


def block_groups(tensors, prefix):
    """A bottleneck's 3×3 conv2 has weight [width, width / groups, 3, 3]
    and conv1 produces `width` channels, so the groups follow from the two
    shapes."""
    width = tensors[f"{prefix}.conv1.weight"].shape[0]
    out, per_group = tensors[f"{prefix}.conv2.weight"].shape[:2]
    if out != width or per_group == 0 or width % per_group != 0:
        raise ComparisonError(f"{prefix}.conv2.weight is {list(tensors[f'{prefix}.conv2.weight'].shape)}; "
                              f"with {width} channels from conv1 that is no grouped convolution")
    return width // per_group


def network_structure(tensors, model, facts):
    """Returns (blocks per stage, bottleneck?, groups per block) as the
    tensors describe them, after checking them against the model table:
    blocks per stage, block kind, and every bottleneck's groups and width
    (torchvision: floor(planes · width_per_group / 64) · groups)."""
    stages = []
    for stage in range(1, 5):
        count = 0
        while f"layer{stage}.{count}.conv1.weight" in tensors:
            count += 1
        stages.append(count)
    bottleneck = "layer1.0.conv3.weight" in tensors
    if stages != facts["stageBlocks"] or bottleneck != facts["bottleneck"]:
        have = "bottleneck" if bottleneck else "basic"
        want = "bottleneck" if facts["bottleneck"] else "basic"
        raise ComparisonError(f"weights hold {have} blocks {stages}; {model} has {want} blocks {facts['stageBlocks']}")
    groups = {}
    for stage, blocks in enumerate(stages, start=1):
        planes = 64 << (stage - 1)
        for i in range(blocks):
            prefix = f"layer{stage}.{i}"
            if not bottleneck:
                groups[prefix] = 1
                continue
            g = block_groups(tensors, prefix)
            width = tensors[f"{prefix}.conv1.weight"].shape[0]
            expected_width = planes * facts["widthPerGroup"] // 64 * facts["groups"]
            if g != facts["groups"] or width != expected_width:
                raise ComparisonError(f"{prefix}: groups {g}, width {width}; {model} has groups {facts['groups']}, "
                                      f"width {expected_width}")
            groups[prefix] = g
    return stages, bottleneck, groups


# --- ONNX graph ------------------------------------------------------------

class GraphBuilder:
    """Accumulates nodes and initializers of a ResNet graph in NCHW."""

    def __init__(self, tensors, batch_norm_epsilon):
        self.tensors = tensors
        self.epsilon = batch_norm_epsilon
        self.nodes = []
        self.initializers = []

    def node(self, op, inputs, name, **attributes):
        self.nodes.append(onnx.helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def constant(self, name, array):
        self.initializers.append(onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def conv_bn(self, x, conv, bn, stride, relu, groups=1):
        """Convolution `conv` with BatchNorm `bn` folded into it, padded to keep
        'same' geometry (k // 2), optionally followed by ReLU. A grouped
        convolution's weight is [out, in / groups, kh, kw], as in ONNX."""
        w = self.tensors[f"{conv}.weight"].astype(np.float64)
        gamma, beta, mean, var = (self.tensors[f"{bn}.{k}"].astype(np.float64)
                                  for k in ("weight", "bias", "running_mean", "running_var"))
        scale = gamma / np.sqrt(var + self.epsilon)
        weight = self.constant(f"{conv}.weight", w * scale[:, None, None, None])
        bias = self.constant(f"{conv}.bias", beta - mean * scale)
        kh, kw = w.shape[2:]
        y = self.node("Conv", [x, weight, bias], conv, kernel_shape=[kh, kw], strides=[stride, stride],
                      pads=[kh // 2, kw // 2, kh // 2, kw // 2], group=groups)
        return self.node("Relu", [y], f"{conv}.relu") if relu else y

    def block(self, x, prefix, stride, bottleneck, groups, variant):
        """One residual block: the main path, the shortcut (a 1×1 projection
        when the weights have one), their sum, then ReLU."""
        if bottleneck:
            # v1.5 strides on the 3×3 conv2; v1 on the 1×1 conv1.
            s1, s2 = (1, stride) if variant == "v1.5" else (stride, 1)
            y = self.conv_bn(x, f"{prefix}.conv1", f"{prefix}.bn1", s1, relu=True)
            y = self.conv_bn(y, f"{prefix}.conv2", f"{prefix}.bn2", s2, relu=True, groups=groups)
            y = self.conv_bn(y, f"{prefix}.conv3", f"{prefix}.bn3", 1, relu=False)
        else:
            y = self.conv_bn(x, f"{prefix}.conv1", f"{prefix}.bn1", stride, relu=True)
            y = self.conv_bn(y, f"{prefix}.conv2", f"{prefix}.bn2", 1, relu=False)
        shortcut = x
        if f"{prefix}.downsample.0.weight" in self.tensors:
            shortcut = self.conv_bn(x, f"{prefix}.downsample.0", f"{prefix}.downsample.1", stride, relu=False)
        total = self.node("Add", [y, shortcut], f"{prefix}.add")
        return self.node("Relu", [total], f"{prefix}.out")


def build_onnx_model(tensors, model, facts, variant, batch, size):
    """The network as an ONNX model: NHWC float32 input 'input' [batch, size,
    size, 3], float32 output 'logits' [batch, classes]. `facts` is the model's
    entry in the tool's model table."""
    stages, bottleneck, groups = network_structure(tensors, model, facts)
    classes = tensors["fc.weight"].shape[0]
    g = GraphBuilder(tensors, facts["batchNormEpsilon"])
    x = g.node("Transpose", ["input"], "to_nchw", perm=[0, 3, 1, 2])
    x = g.conv_bn(x, "conv1", "bn1", 2, relu=True)
    x = g.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for stage, blocks in enumerate(stages, start=1):
        for i in range(blocks):
            stride = 2 if stage > 1 and i == 0 else 1
            prefix = f"layer{stage}.{i}"
            x = g.block(x, prefix, stride, bottleneck, groups[prefix], variant)
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


# --- the peers -------------------------------------------------------------

def ort_name():
    return f"ONNX Runtime {ort.__version__}"


def openvino_name():
    return f"OpenVINO {ov.__version__.split('-')[0]}"


def ort_session(onnx_path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def openvino_model(onnx_path, threads):
    import openvino.properties as props
    import openvino.properties.hint as hints
    config = {
        props.inference_num_threads: threads,
        hints.performance_mode: hints.PerformanceMode.LATENCY,
        props.num_streams: 1,
        hints.inference_precision: ov.Type.f32,
    }
    core = ov.Core()
    return core.compile_model(core.read_model(str(onnx_path)), "CPU", config)


def time_ort(onnx_path, image, threads, warmup, repetitions):
    """Returns (timing summary, logits of the last run). The session lives only
    in here: its release joins its thread pool."""
    session = ort_session(onnx_path, threads)
    feed = {"input": image}
    return time_calls(lambda: session.run(["logits"], feed)[0], warmup, repetitions)


def time_openvino(onnx_path, image, threads, warmup, repetitions):
    """Returns (timing summary, logits of the last run); the compiled model
    lives only in here."""
    request = openvino_model(onnx_path, threads).create_infer_request()
    timing, result = time_calls(lambda: request.infer({0: image}, share_inputs=True), warmup, repetitions)
    return timing, np.array(result[0])


def time_peers(onnx_path, image, threads, warmup, repetitions):
    """Q of a pair: ONNX Runtime, then OpenVINO. Returns [(timing row, logits)]."""
    results = []
    for name, timer in ((ort_name(), time_ort), (openvino_name(), time_openvino)):
        timing, logits = timer(onnx_path, image, threads, warmup, repetitions)
        results.append(({"runtime": name, **timing}, logits))
    return results


# --- one-thread robustness runs ----------------------------------------------

@contextlib.contextmanager
def neighbour_load(megabytes, bound_s, core):
    """Runs memory_neighbour.py (MB megabytes, on `core`) for the duration of
    the block, from the moment its buffers are ready; none when MB is 0."""
    if megabytes == 0:
        yield
        return
    proc = subprocess.Popen([sys.executable, str(NEIGHBOUR_SCRIPT), str(megabytes), f"{bound_s:.0f}", str(core)],
                            stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise ComparisonError(f"the memory neighbour ({NEIGHBOUR_SCRIPT.name} {megabytes}) did not start")
        yield
        if proc.poll() is not None:
            log(f"warning: the memory neighbour stopped before the phase ended (bound {bound_s:.0f} s): "
                f"part of it ran quiet")
    finally:
        if proc.poll() is None:
            proc.terminate()
        report = proc.communicate(timeout=60)[0].strip()
        if report:
            log(f"neighbour {megabytes} MB on core {core}: {report}")


class Phases:
    """Runs each P and Q under the machine lock and, in neighbour runs, with
    the memory load beside it, bounded by the same phase's last duration."""

    def __init__(self, lock, megabytes, core):
        self.lock, self.megabytes, self.core = lock, megabytes, core
        self.durations = {}

    @contextlib.contextmanager
    def phase(self, kind):
        last = self.durations.get(kind)
        bound = NEIGHBOUR_FIRST_BOUND_S if last is None else last * NEIGHBOUR_MARGIN[0] + NEIGHBOUR_MARGIN[1]
        with machine_lock(self.lock, log), neighbour_load(self.megabytes, bound, self.core):
            start = time.monotonic()
            yield
            self.durations[kind] = time.monotonic() - start


# --- main ------------------------------------------------------------------

def parse_args(argv):
    parser = ArgumentParser(
        description="Time ONNX Runtime, OpenVINO and every resnet-bench backend (and plan) on the same network, "
                    "weights, input and threads, in alternating pairs (resnet-bench, then the peers); print one "
                    "table with each row's ratio to the best peer of its pair, and check that the logits agree.",
        epilog="Exit codes: 0 agreement; 1 logits or top-k differ (or resnet-bench's own check failed); "
               "2 usage or input error.")
    parser.add_argument("--model", default="resnet50",
                        help="a model of `resnet-bench env --json` (torchvision names: resnet18, 34, 50, 101, 152, "
                             "resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, "
                             "wide_resnet101_2); default resnet50")
    parser.add_argument("--variant", default="v1.5", choices=VARIANTS,
                        help="v1.5: stride on a bottleneck's 3×3 (torchvision); v1: on its first 1×1")
    parser.add_argument("--size", type=int, default=224, help="input height and width (at least 32)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--threads", type=int,
                        help="threads for every runtime (default: all cores; 1 with --neighbour or --single-core)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the input image")
    parser.add_argument("--pairs", type=int, default=3,
                        help="P Q pairs (P: one resnet-bench run; Q: ONNX Runtime then OpenVINO); default 3")
    parser.add_argument("--repetitions", type=int, default=30,
                        help="timed inferences per runtime and pair (resnet-bench caps its naive backend at 3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed inferences per runtime and pair first")
    parser.add_argument("--binary", type=Path, default=REPO_ROOT / ".build/release/resnet-bench",
                        help="resnet-bench executable (default: the repository's release build)")
    parser.add_argument("--workdir", type=Path,
                        help="keep weights, graph, input, logits, CSV and log here (default: a temporary "
                             "directory, removed unless something fails)")
    parser.add_argument("--plan", default="auto", help="a plan from `resnet-bench tune` passed to `run`, 'auto' (the default: the committed plan in results/ that fits this machine, if any) or 'none'")
    parser.add_argument("--backends", default="all", help="resnet-bench backends, comma-separated, or 'all'")
    parser.add_argument("--check-against", metavar="BACKEND",
                        help="the resnet-bench backend whose logits the peers' are checked against (default: "
                             "the first row, with 'all' naive, the most exact); the plan's are not written by "
                             "`run`, so it cannot be named")
    parser.add_argument("--neighbour", type=int, default=0, metavar="MB",
                        help="one-thread robustness run: everything pinned to core 0 with 1 thread, and a "
                             "memory-streaming load of MB megabytes on the last core (0: no load)")
    parser.add_argument("--single-core", action="store_true",
                        help="pinned to core 0 with 1 thread as with --neighbour, without the load (the quiet "
                             "side of a robustness run)")
    parser.add_argument("--csv", type=Path,
                        help="also write every row (pair, runtime, median_ms, p10_ms, p90_ms, ratio_to_best_peer) "
                             "as CSV to this file")
    parser.add_argument("--lock", type=Path, default=Path("/tmp/swift-build.lock"),
                        help="lock file that builds on this machine hold; timings wait for it")
    args = parser.parse_args(argv)
    for name, least in (("size", 32), ("batch", 1), ("classes", 1), ("pairs", 1), ("repetitions", 1),
                        ("warmup", 0), ("neighbour", 0)):
        if getattr(args, name) < least:
            parser.error(f"--{name} must be at least {least}")
    args.pinned = args.neighbour > 0 or args.single_core
    if args.pinned:
        if args.threads not in (None, 1):
            log(f"--threads {args.threads} ignored: a robustness run uses 1 thread")
        args.threads = 1
        cores = sorted(os.sched_getaffinity(0))
        if 0 not in cores or (args.neighbour > 0 and len(cores) < 2):
            parser.error(f"--neighbour/--single-core need core 0 and another core; this process may use {cores}")
        args.neighbour_core = cores[-1]
    else:
        args.neighbour_core = None
        if args.threads is None:
            args.threads = os.cpu_count() or 1
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.check_against == "plan":
        parser.error("--check-against plan: `resnet-bench run` writes a backend's logits, not the plan's")
    if not os.access(args.binary, os.X_OK):
        parser.error(f"--binary {args.binary}: not an executable (build it with scripts/setup.sh)")
    if args.plan not in ("auto", "none") and not Path(args.plan).is_file():
        parser.error(f"--plan {args.plan}: no such file")
    return args


def bench_run_args(args, binary, weights, image_path, backends, repetitions, warmup):
    """The `resnet-bench run` arguments shared by the timed runs and the run
    that writes the --check-against backend's logits."""
    return [binary, "run", "--model", args.model, "--variant", args.variant, "--batch", args.batch,
            "--size", args.size, "--classes", args.classes, "--threads", args.threads,
            "--backends", backends, "--repetitions", repetitions, "--warmup", warmup,
            "--weights", weights, "--input", image_path]


def compare(args, workdir):
    """Does the measuring and prints the report; returns the exit code."""
    binary = args.binary.resolve()
    weights = workdir / "weights.safetensors"
    image_path = workdir / "input.npy"
    onnx_path = workdir / f"{args.model}.onnx"
    bench_csv = workdir / "resnet-bench.csv"
    bench_logits = workdir / "resnet-bench-logits.npy"
    bench_log = workdir / "resnet-bench.log"
    # A reused --workdir must not hand an earlier run's results to this one.
    for stale in (bench_csv, bench_logits, bench_log):
        stale.unlink(missing_ok=True)
    pin = ("taskset", "-c", "0") if args.pinned else ()

    facts = read_tool_facts(binary, args.lock, log)
    model_facts = facts.model(args.model)

    log(f"exporting {args.model} {args.variant} weights (seed {args.seed})")
    with machine_lock(args.lock, log):
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
    with machine_lock(args.lock, log):
        onnx.save(build_onnx_model(tensors, args.model, model_facts, args.variant, args.batch, args.size), onnx_path)
    del tensors

    phases = Phases(args.lock, args.neighbour, args.neighbour_core)

    reference_name = args.check_against
    if reference_name is not None:
        log(f"writing {reference_name}'s logits (one untimed, unchecked resnet-bench run)")
        with phases.phase("reference"):
            code = run_binary([*bench_run_args(args, binary, weights, image_path, reference_name, 1, 0),
                               "--no-check", "--dump-logits", bench_logits], bench_log, pin)
        if code != 0 or not bench_logits.is_file():
            raise ComparisonError(f"resnet-bench run --backends {reference_name} exited {code}:\n{tail(bench_log)}")
    timed_args = [*bench_run_args(args, binary, weights, image_path, args.backends, args.repetitions, args.warmup),
                  "--csv", bench_csv]
    if reference_name is None:
        timed_args += ["--dump-logits", bench_logits]
    if args.plan != "none":
        timed_args += ["--plan", args.plan if args.plan == "auto" else Path(args.plan).resolve()]

    rows, peer_logits, bench_failed = [], {}, False
    for pair in range(1, args.pairs + 1):
        log(f"pair {pair}/{args.pairs}: resnet-bench run --backends {args.backends} (log: {bench_log})")
        with phases.phase("P"):
            project, failed = run_project(timed_args, bench_csv, bench_log, log, pin)
        bench_failed |= failed
        log(f"pair {pair}/{args.pairs}: {ort_name()}, then {openvino_name()} ({args.warmup} warm-up, "
            f"{args.repetitions} timed, threads {args.threads})")
        with phases.phase("Q"):
            peers = time_peers(onnx_path, image, args.threads, args.warmup, args.repetitions)
        for timing, logits in peers:
            peer_logits.setdefault(timing["runtime"], []).append(logits)
        rows += pair_rows(pair, [t for t, _ in peers], project_timings(project), args.batch)
    reference_name = reference_name or project[0]["candidate"]
    reference = np.load(bench_logits)

    setting = (f"1 thread on core 0, memory-streaming neighbour of {args.neighbour} MB on core {args.neighbour_core}"
               if args.neighbour else "1 thread on core 0, no neighbour" if args.pinned else f"{args.threads} threads")
    print(f"{args.model} {args.variant}, batch {args.batch}, {args.size}×{args.size}, {setting}, seed {args.seed}; "
          f"{pairs_text(args.pairs)} (resnet-bench, then {ort_name()} and {openvino_name()}), "
          f"{args.repetitions} timed runs per runtime and pair (median; ÷ best peer = latency ÷ the faster peer's "
          f"in the same pair)")
    print(format_table(rows))
    for line in ratio_summary(rows):
        print(line)

    tolerance = facts.tolerance(reference_name)
    agrees = True
    for name, per_pair in peer_logits.items():
        ok, line = worst_agreement(f"{name} vs resnet-bench ({reference_name})", per_pair, reference, facts, tolerance)
        agrees &= ok
        print(line)
    print(own_check_line(project, bench_failed, bench_log))
    if facts.source != "`resnet-bench env --json`":
        print(f"(tolerances and model table from {facts.source}: the binary has no `env --json`)")

    if args.csv is not None:
        context = {"model": args.model, "variant": args.variant, "batch": args.batch, "input_size": args.size,
                   "threads": args.threads, "neighbour_mb": args.neighbour}
        write_csv(args.csv, rows, context)
        log(f"wrote {len(rows)} rows to {args.csv}")
    return 0 if agrees and not bench_failed else 1


def main(argv=None):
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="onnx-peer-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    code = 2
    if args.pinned:
        # Before any import starts a thread (numpy's BLAS does), so that every
        # thread of this process, the peers' included, inherits core 0.
        os.sched_setaffinity(0, {0})
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
