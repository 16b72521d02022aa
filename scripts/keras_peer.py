#!/usr/bin/env python3
"""How resnet-bench's backends compare with TensorFlow and TFLite on Keras's
ResNet-50, with the same weights, input image and thread count.

The ONNX peers (onnx_peer.py) run torchvision's network; this one runs the
network most Keras users meet: keras.applications.ResNet50 (v1: stride on a
bottleneck's first 1×1, biased convolutions, BatchNorm epsilon 1.001e-5, stem
ZeroPadding2D(3) + valid 7×7 convolution + ZeroPadding2D(1) + valid max pool),
or with --variant keras-same the tutorials' variant of it, whose stem is a
'same'-padded 7×7 convolution and a 'same'-padded max pool (TensorFlow pads
those asymmetrically: one row and column more at the bottom and right).

Steps:
  1. `resnet-bench env --json` gives the agreement rule (tolerances, error
     floor, top-k) and the blocks per stage of resnet50.
  2. The network is built in TensorFlow with seeded initial weights
     (keras.utils.set_random_seed). Every BatchNormalization layer then gets
     seeded non-trivial statistics and affine terms, and every convolution and
     the classifier seeded biases: with Keras's defaults (mean 0, variance 1,
     bias 0) a loader that dropped or swapped them would still agree.
  3. The weights are written as keras.applications' .h5 files hold them, and
     read back into a freshly built model with `load_weights`, which must give
     bit-identical logits: the file resnet-bench reads is the network timed here.
  4. A seeded standard-normal NHWC float32 image is saved as .npy.
  5. Pairs, P Q P Q P Q: P is one `resnet-bench run` process on the .h5 file
     (see run_resnet_bench, the one place that knows that command line); Q is
     TensorFlow (a tf.function of the model, warmed up), then TFLite (the
     model converted with TFLiteConverter.from_keras_model, run by
     tf.lite.Interpreter with its default XNNPACK delegate), timed here.
  6. One table: every runtime in every pair with its ratio to the faster peer
     of that pair, each resnet-bench row's per-pair ratios and their median;
     then resnet-bench's and TFLite's agreement with TensorFlow's logits.

The .h5 layout (keras.applications, Keras 2 HDF5 weights): the root attribute
`layer_names` lists every layer as fixed-length byte strings; each layer has a
group with attribute `weight_names` (e.g. `conv1_conv/kernel:0`, empty for a
layer without weights); each weight is a float32 dataset at
/<layer>/<weight_name>, i.e. /conv1_conv/conv1_conv/kernel:0. Convolution
kernels are HWIO, Dense kernels [in, out], BatchNorm's order is gamma, beta,
moving_mean, moving_variance. Keras loads such a file by layer order.

TensorFlow's threads: intra-op = --threads, inter-op = 1, set before its
runtime starts; they live as long as this process. TFLite's interpreter (and
its thread pool) is created afresh in every Q and released after its timing.

Timings share a 2-core machine with builds, so every P, every Q and the
model building hold the lock that builds take (--lock).

Exit codes: 0 when resnet-bench and TFLite agree with TensorFlow; 1 when
logits differ beyond the network tolerance or the top-k classes differ, or
when resnet-bench's own check against its Float64 reference fails; 2 on a
usage or input error, or when the comparison could not be run.
"""

import contextlib
import io
import json
import math
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from peer_common import (REPO_ROOT, ArgumentParser, ComparisonError, Logger, format_table, install_missing,
                         machine_lock, own_check_line, pair_rows, pairs_text, project_timings, ratio_summary,
                         read_tool_facts, run_project, summarize, tail, text_table, time_calls, worst_agreement,
                         write_csv)

VARIANTS = ("keras", "keras-same")
# Import name -> PyPI name of what the script needs beyond the standard library.
REQUIRED_PACKAGES = {"numpy": "numpy", "h5py": "h5py", "tensorflow": "tensorflow-cpu"}
# Filters per stage of ResNet-50's bottlenecks, and the first block's stride.
STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))

# Bound by load_packages(): they may have to be installed first, which must
# not happen before the arguments have been checked.
np = h5py = tf = keras = None
log = Logger("keras-peer")


def load_packages(threads):
    """Imports numpy, h5py and TensorFlow (installing the missing ones from
    PyPI first) and sets TensorFlow's thread pools before its runtime starts."""
    global np, h5py, tf, keras
    install_missing(REQUIRED_PACKAGES, log)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ info lines between the report's
    import h5py as h5py_module
    import numpy
    import tensorflow
    import keras as keras_module
    np, h5py, tf, keras = numpy, h5py_module, tensorflow, keras_module
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


# --- the network -----------------------------------------------------------

def keras_resnet50(size):
    return keras.applications.ResNet50(weights=None, classifier_activation=None, input_shape=(size, size, 3))


def bottleneck(x, filters, stride, projection, name, epsilon):
    """keras.applications' residual_block_v1, with its layer names."""
    layers = keras.layers
    shortcut = x
    if projection:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=3, epsilon=epsilon, name=f"{name}_0_bn")(shortcut)
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=epsilon, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=epsilon, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=epsilon, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def same_stem_resnet50(size, stage_blocks, epsilon):
    """The tutorials' ResNet-50: keras.applications' blocks and layer names,
    but a 'same'-padded stem instead of explicit zero padding."""
    layers = keras.layers
    inputs = keras.Input(shape=(size, size, 3))
    x = layers.Conv2D(64, 7, strides=2, padding="same", name="conv1_conv")(inputs)
    x = layers.BatchNormalization(axis=3, epsilon=epsilon, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    for stage, ((filters, stride), blocks) in enumerate(zip(STAGES, stage_blocks), start=2):
        for b in range(1, blocks + 1):
            x = bottleneck(x, filters, stride if b == 1 else 1, b == 1, f"conv{stage}_block{b}", epsilon)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(1000, name="predictions")(x)
    return keras.Model(inputs, x, name="resnet50")


def weight_layout(model):
    """(layer name, weight shapes) of every layer with weights, in order: what
    a Keras .h5 file must match to load."""
    return [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers if layer.weights]


def build_network(variant, size, stage_blocks, seed):
    """The network with Keras's seeded initial weights. keras-same is checked
    against keras.applications' layer names and weight shapes, since the same
    .h5 layout must describe both."""
    keras.utils.set_random_seed(seed)
    reference = keras_resnet50(size)
    if variant == "keras":
        return reference
    epsilon = reference.get_layer("conv1_bn").epsilon
    keras.utils.set_random_seed(seed)
    model = same_stem_resnet50(size, stage_blocks, epsilon)
    if weight_layout(model) != weight_layout(reference):
        raise ComparisonError("the keras-same network's layers differ from keras.applications.ResNet50's; "
                              "this Keras changed its ResNet")
    return model


def seed_statistics(model, seed):
    """BatchNorm: mean ~ N(0, 0.1²), variance and gamma ∈ [0.5, 1.5),
    beta ~ N(0, 0.05²); convolution and Dense biases ~ N(0, 0.05²)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            gamma = rng.uniform(0.5, 1.5, c)
            beta = rng.normal(0.0, 0.05, c)
            mean = rng.normal(0.0, 0.1, c)
            variance = rng.uniform(0.5, 1.5, c)
            layer.set_weights([a.astype(np.float32) for a in (gamma, beta, mean, variance)])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0.0, 0.05, bias.shape).astype(np.float32)])


def write_h5(model, path):
    """Writes the weights in keras.applications' HDF5 layout (see the module
    docstring), with h5py directly rather than Keras 3's save_weights, whose
    names lack the ':0' of the published files."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode("utf8") for layer in model.layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras.__version__.encode("utf8")
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            # An empty list is what Keras 2 stored for a layer without weights.
            group.attrs["weight_names"] = np.array([n.encode("utf8") for n in names]) if names else np.asarray([])
            for name, w in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(w.numpy(), dtype=np.float32))


def check_round_trip(model, path, variant, size, stage_blocks, seed, image):
    """A fresh model (other initial weights) that loads `path` with Keras's
    own loader must compute bit-identical logits."""
    fresh = build_network(variant, size, stage_blocks, seed + 1)
    fresh.load_weights(str(path))
    mine, theirs = model(image, training=False).numpy(), fresh(image, training=False).numpy()
    if not np.array_equal(mine, theirs):
        raise ComparisonError(f"{path}: Keras reads back other weights than were written "
                              f"(logits differ by up to {np.max(np.abs(mine - theirs)):.3g})")


# --- the peers -------------------------------------------------------------

def tf_name():
    return f"TensorFlow {tf.__version__}"


def tflite_name():
    return f"TFLite {tf.__version__} XNNPACK"


def to_tflite(model):
    """The model as a TFLite flatbuffer; the converter's export chatter on
    stdout is dropped, so stdout keeps only the report."""
    with contextlib.redirect_stdout(io.StringIO()):
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def time_tf(infer, image, warmup, repetitions):
    x = tf.constant(image)
    return time_calls(lambda: infer(x).numpy(), warmup, repetitions)


def tflite_inference(flatbuffer, image, threads):
    """A TFLite interpreter (its default XNNPACK delegate and thread pool)
    ready for `image`, as a call that runs one inference and returns the
    logits; the interpreter lives as long as the call."""
    with warnings.catch_warnings():  # its deprecation notice in favour of ai_edge_litert
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=threads)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], list(image.shape))
    interpreter.allocate_tensors()

    def infer():
        interpreter.set_tensor(inp["index"], image)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return infer


def time_tflite(flatbuffer, image, threads, warmup, repetitions):
    """Returns (timing summary, logits of the last run), on an interpreter of
    its own (made for this Q only)."""
    return time_calls(tflite_inference(flatbuffer, image, threads), warmup, repetitions)


def time_peers(infer, flatbuffer, image, threads, warmup, repetitions):
    """Q of a pair: TensorFlow, then TFLite. Returns [(timing row, logits)]."""
    tf_timing, tf_logits = time_tf(infer, image, warmup, repetitions)
    lite_timing, lite_logits = time_tflite(flatbuffer, image, threads, warmup, repetitions)
    return [({"runtime": tf_name(), **tf_timing}, tf_logits), ({"runtime": tflite_name(), **lite_timing}, lite_logits)]


# --- resnet-bench ------------------------------------------------------------

def resnet_bench_command(args, binary, weights, image_path, logits_path, output):
    """The `resnet-bench run` command on the Keras network: the only place
    that knows this command line. It needs the binary to read Keras .h5
    weights and run the `keras` and `keras-same` variants (ResNet-50 v1 with
    biased convolutions, BatchNorm epsilon 1.001e-5, and the stem of the
    variant). `output`: the options that say where the timings go."""
    command = [binary, "run", "--model", "resnet50", "--variant", args.variant, "--weights", weights,
               "--input", image_path, "--dump-logits", logits_path, *output,
               "--threads", args.threads, "--batch", args.batch, "--size", args.size,
               "--backends", args.backends, "--repetitions", args.repetitions, "--warmup", args.warmup]
    if args.plan != "none":
        command += ["--plan", args.plan if args.plan == "auto" else Path(args.plan).resolve()]
    return command


def run_resnet_bench(args, binary, weights, image_path, csv_path, logits_path, log_path):
    """P of a pair: one `resnet-bench run` process. Returns (network rows,
    whether resnet-bench's own check failed)."""
    command = resnet_bench_command(args, binary, weights, image_path, logits_path, ["--csv", csv_path])
    return run_project(command, csv_path, log_path, log)


# --- interleaved rounds -----------------------------------------------------

def paired_ratio(numerator, denominator):
    """Hodges-Lehmann estimate of the ratio of two series measured in the same
    rounds (the median of the Walsh averages of the per-round log-ratios) and
    the 95% Wilcoxon signed-rank interval (normal approximation of the rank
    statistic, which is close at the 10 or more rounds this is used with)."""
    d = [math.log(a / b) for a, b in zip(numerator, denominator) if a > 0 and b > 0]
    n = len(d)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    k = int(n * (n + 1) / 4 - 1.959964 * math.sqrt(n * (n + 1) * (2 * n + 1) / 24))
    low, high = (math.exp(walsh[k - 1]), math.exp(walsh[-k])) if 1 <= k <= len(walsh) else (0.0, math.inf)
    return math.exp(statistics.median(walsh)), low, high


class LockstepPartner:
    """Drives one `resnet-bench run --lockstep PREFIX` process: `turn()` lets it
    run one round (its set-up too, on the first turn) and returns True when it
    handed the turn back, False when it exited instead (its final turn)."""

    def __init__(self, command, prefix, log_path):
        self.prefix = str(prefix)
        for end in (".go", ".done"):
            Path(self.prefix + end).unlink(missing_ok=True)
            os.mkfifo(self.prefix + end)
        # Held open read-write here, so neither open blocks and a write never does.
        self.go = os.open(self.prefix + ".go", os.O_RDWR)
        self.done = os.open(self.prefix + ".done", os.O_RDWR)
        self.out = open(log_path, "ab")
        self.out.write(("$ " + " ".join(str(c) for c in command) + "\n").encode())
        self.out.flush()
        self.process = subprocess.Popen([str(c) for c in command], cwd=REPO_ROOT, stdout=self.out,
                                        stderr=subprocess.STDOUT)

    def turn(self):
        os.write(self.go, b"go\n")
        while True:
            ready, _, _ = select.select([self.done], [], [], 0.2)
            if ready:
                os.read(self.done, 64)
                return True
            if self.process.poll() is not None:
                return False

    def close(self):
        code = self.process.wait()
        os.close(self.go)
        os.close(self.done)
        self.out.close()
        return code


# The CSV columns of the interleaved mode, after the context's: one row per runtime.
INTERLEAVED_COLUMNS = ["runtime", "rounds", "median_ms", "p10_ms", "p90_ms", "images_per_s",
                       "ratio_to_tflite", "ratio_to_tflite_low", "ratio_to_tflite_high",
                       "ratio_to_tf", "ratio_to_tf_low", "ratio_to_tf_high"]


def csv_context(args):
    """The columns every CSV row of either mode starts with."""
    return {"model": "resnet50", "variant": args.variant, "batch": args.batch, "input_size": args.size,
            "threads": args.threads}


def compare_interleaved(args, binary, weights, image, image_path, workdir, infer, flatbuffer, facts):
    """The --interleave measurement and report; returns the exit code."""
    bench_json = workdir / "resnet-bench.json"
    bench_logits = workdir / "resnet-bench-logits.npy"
    bench_log = workdir / "resnet-bench.log"
    command = resnet_bench_command(args, binary, weights, image_path, bench_logits,
                                   ["--json", bench_json, "--lockstep", workdir / "turns",
                                    "--warm-each", args.warm_each])
    x = tf.constant(image)
    peers = {tf_name(): lambda: infer(x).numpy(), tflite_name(): tflite_inference(flatbuffer, image, args.threads)}
    rng = random.Random(args.seed)
    peer_times = {name: [] for name in peers}
    peer_logits = {}
    log(f"{args.warmup} warm-up and {args.repetitions} timed rounds, resnet-bench ({args.backends}) under "
        f"`run --lockstep`, {tf_name()} and {tflite_name()} taking turns with it (log: {bench_log})")

    def peer_round():
        names = list(peers)
        rng.shuffle(names)
        for name in names:
            for _ in range(args.warm_each):
                peers[name]()
            start = time.perf_counter()
            peer_logits[name] = peers[name]()
            peer_times[name].append((time.perf_counter() - start) * 1e3)

    with machine_lock(args.lock, log):
        partner = LockstepPartner(command, workdir / "turns", bench_log)
        turns = 0
        while True:
            peers_first = rng.random() < 0.5
            if peers_first and turns > 0:
                peer_round()
            if not partner.turn():
                break
            turns += 1
            if not peers_first or turns == 1:
                peer_round()
        code = partner.close()
    if code not in (0, 1) or not bench_json.is_file():
        raise ComparisonError(f"resnet-bench run exited {code}:\n{tail(bench_log)}")
    document = json.loads(bench_json.read_text())
    bench = {}
    for entry in document["benchmarks"]:
        if entry.get("run_type") == "iteration" and entry.get("scope") == "network":
            bench.setdefault(entry["candidate"], {})[entry["repetition_index"]] = float(entry["real_time"])
    # Peer round t ran beside resnet-bench's turn t; its timed rounds are the
    # turns after the warm-up ones.
    timed = {name: times[args.warmup:args.warmup + args.repetitions] for name, times in peer_times.items()}
    series = {c: [v[i] for i in sorted(v)] for c, v in bench.items()}
    rounds = min(len(t) for t in [*timed.values(), *series.values()])
    if rounds < 6:
        raise ComparisonError(f"only {rounds} rounds were timed on every side; at least 6 are needed for an interval")
    series = {c: v[:rounds] for c, v in series.items()}
    timed = {n: v[:rounds] for n, v in timed.items()}

    print(f"resnet50 {args.variant}, batch {args.batch}, {args.size}×{args.size}, {args.threads} threads, seed "
          f"{args.seed}; {rounds} interleaved rounds (each: every resnet-bench row once, {tf_name()} once, "
          f"{tflite_name()} once, order drawn per round; each timed run right after {args.warm_each} untimed of the "
          f"same runtime); ratios paired round by round, Hodges-Lehmann with a 95% interval")
    headers = ["runtime", "median ms", "p10 ms", "p90 ms", "img/s", f"÷ {tflite_name()}", f"÷ {tf_name()}"]
    table, rows = [], []
    for name, values in [*timed.items(), *series.items()]:
        row = {"runtime": name, **summarize(values), "rounds": rounds}
        row["images_per_s"] = args.batch * 1e3 / row["median_ms"]
        cells = [name, *(f"{row[k]:.2f}" for k in ("median_ms", "p10_ms", "p90_ms")), f"{row['images_per_s']:.1f}"]
        for key, peer in (("tflite", tflite_name()), ("tf", tf_name())):
            if name == peer:
                cells.append("1")
                row.update({f"ratio_to_{key}": 1.0, f"ratio_to_{key}_low": 1.0, f"ratio_to_{key}_high": 1.0})
                continue
            ratio, low, high = paired_ratio(values, timed[peer])
            cells.append(f"{ratio:.3f} ({low:.3f}–{high:.3f})")
            row.update({f"ratio_to_{key}": ratio, f"ratio_to_{key}_low": low, f"ratio_to_{key}_high": high})
        table.append(cells)
        rows.append(row)
    print(text_table(headers, table, left=0))

    reference = peer_logits[tf_name()]
    checked = next(iter(series))
    ok_bench, line = worst_agreement(f"resnet-bench ({checked}) vs {tf_name()}", [np.load(bench_logits)], reference,
                                     facts, facts.tolerance(checked))
    print(line)
    ok_peers, line = worst_agreement(f"{tflite_name()} vs {tf_name()}", [peer_logits[tflite_name()]], reference,
                                     facts, facts.tolerance("direct"))
    print(line)
    if code == 1:
        print(f"resnet-bench's own Float64-reference check FAILED (see {bench_log})")
    if args.csv is not None:
        write_csv(args.csv, rows, csv_context(args), INTERLEAVED_COLUMNS)
        log(f"wrote {len(rows)} rows to {args.csv}")
    return 0 if ok_bench and ok_peers and code == 0 else 1


# --- main ------------------------------------------------------------------

def parse_args(argv):
    parser = ArgumentParser(
        description="Time TensorFlow, TFLite (XNNPACK) and every resnet-bench backend (and plan) on Keras's "
                    "ResNet-50 with the same weights (.h5), input and threads, in alternating pairs "
                    "(resnet-bench, then the peers); print one table with each row's ratio to the faster peer "
                    "of its pair, and check the logits against TensorFlow's.",
        epilog="Exit codes: 0 agreement; 1 logits or top-k differ (or resnet-bench's own check failed); "
               "2 usage or input error.")
    parser.add_argument("--variant", default="keras", choices=VARIANTS,
                        help="keras: keras.applications.ResNet50; keras-same: its blocks with the tutorials' "
                             "'same'-padded stem")
    parser.add_argument("--size", type=int, default=224, help="input height and width (at least 32)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for every runtime (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the input image")
    parser.add_argument("--pairs", type=int, default=3,
                        help="P Q pairs (P: one resnet-bench run; Q: TensorFlow then TFLite); default 3")
    parser.add_argument("--repetitions", type=int, default=30,
                        help="timed inferences per runtime and pair (resnet-bench caps its naive backend at 3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed inferences per runtime and pair first")
    parser.add_argument("--binary", type=Path, default=REPO_ROOT / ".build/release/resnet-bench",
                        help="resnet-bench executable (default: the repository's release build)")
    parser.add_argument("--workdir", type=Path,
                        help="keep weights (.h5), input, logits, CSV and log here (default: a temporary "
                             "directory, removed unless something fails)")
    parser.add_argument("--plan", default="auto", help="a plan from `resnet-bench tune` passed to `run`, 'auto' (the default: the committed plan in results/ that fits this machine, if any) or 'none'")
    parser.add_argument("--backends", default="all",
                        help="resnet-bench backends, comma-separated, or 'all'; the first one's logits are "
                             "checked against TensorFlow's (with 'all', naive: the most exact)")
    parser.add_argument("--csv", type=Path,
                        help="also write every row (pair, runtime, median_ms, p10_ms, p90_ms, ratio_to_best_peer) "
                             "as CSV to this file")
    parser.add_argument("--interleave", action="store_true",
                        help="instead of pairs: one resnet-bench process under `run --lockstep` and the peers take "
                             "turns round by round (each round every resnet-bench row once, TensorFlow once, TFLite "
                             "once, the order drawn per round), and each ratio is paired round by round "
                             "(Hodges-Lehmann with a 95%% signed-rank interval); --repetitions rounds, --pairs ignored")
    parser.add_argument("--warm-each", type=int, default=1,
                        help="with --interleave: untimed inferences of each runtime (every resnet-bench row, "
                             "TensorFlow, TFLite) right before each of its timed ones, so each is timed in its "
                             "steady state, not starting from the caches (and spinning threads) the runtime "
                             "before it left; 0 times the first inference of each turn (default 1)")
    parser.add_argument("--lock", type=Path, default=Path("/tmp/swift-build.lock"),
                        help="lock file that builds on this machine hold; timings wait for it")
    args = parser.parse_args(argv)
    for name, least in (("size", 32), ("batch", 1), ("threads", 1), ("pairs", 1), ("repetitions", 1),
                        ("warmup", 0), ("warm_each", 0)):
        if getattr(args, name) < least:
            parser.error(f"--{name.replace('_', '-')} must be at least {least}")
    if not os.access(args.binary, os.X_OK):
        parser.error(f"--binary {args.binary}: not an executable (build it with scripts/setup.sh)")
    if args.plan not in ("auto", "none") and not Path(args.plan).is_file():
        parser.error(f"--plan {args.plan}: no such file")
    return args


def compare(args, workdir):
    """Does the measuring and prints the report; returns the exit code."""
    binary = args.binary.resolve()
    weights = workdir / "weights.h5"
    image_path = workdir / "input.npy"
    bench_csv = workdir / "resnet-bench.csv"
    bench_logits = workdir / "resnet-bench-logits.npy"
    bench_log = workdir / "resnet-bench.log"
    # A reused --workdir must not hand an earlier run's results to this one.
    for stale in (bench_csv, bench_logits, bench_log):
        stale.unlink(missing_ok=True)

    facts = read_tool_facts(binary, args.lock, log)
    stage_blocks = facts.model("resnet50")["stageBlocks"]
    image = np.random.default_rng(args.seed).standard_normal(
        (args.batch, args.size, args.size, 3), dtype=np.float32)
    np.save(image_path, image)

    log(f"building {args.variant} ResNet-50 in {tf_name()} (Keras {keras.__version__}, seed {args.seed}), "
        f"writing and re-reading {weights.name}, converting to TFLite")
    with machine_lock(args.lock, log):
        model = build_network(args.variant, args.size, stage_blocks, args.seed)
        seed_statistics(model, args.seed)
        write_h5(model, weights)
        check_round_trip(model, weights, args.variant, args.size, stage_blocks, args.seed, image)
        infer = tf.function(lambda x: model(x, training=False))
        flatbuffer = to_tflite(model)

    if args.interleave:
        return compare_interleaved(args, binary, weights, image, image_path, workdir, infer, flatbuffer, facts)

    rows, peer_logits, bench_outputs, bench_failed = [], {}, [], False
    for pair in range(1, args.pairs + 1):
        log(f"pair {pair}/{args.pairs}: resnet-bench run --variant {args.variant} --backends {args.backends} "
            f"(log: {bench_log})")
        with machine_lock(args.lock, log):
            project, failed = run_resnet_bench(args, binary, weights, image_path, bench_csv, bench_logits, bench_log)
        bench_failed |= failed
        bench_outputs.append(np.load(bench_logits))
        log(f"pair {pair}/{args.pairs}: {tf_name()}, then {tflite_name()} ({args.warmup} warm-up, "
            f"{args.repetitions} timed, threads {args.threads})")
        with machine_lock(args.lock, log):
            peers = time_peers(infer, flatbuffer, image, args.threads, args.warmup, args.repetitions)
        for timing, logits in peers:
            peer_logits.setdefault(timing["runtime"], []).append(logits)
        rows += pair_rows(pair, [t for t, _ in peers], project_timings(project), args.batch)

    print(f"resnet50 {args.variant}, batch {args.batch}, {args.size}×{args.size}, {args.threads} threads, "
          f"seed {args.seed}; {pairs_text(args.pairs)} (resnet-bench, then {tf_name()} and {tflite_name()}), "
          f"{args.repetitions} timed runs per runtime and pair (median; ÷ best peer = latency ÷ the faster peer's "
          f"in the same pair)")
    print(format_table(rows))
    for line in ratio_summary(rows):
        print(line)

    # TensorFlow's logits are the reference: it defines the Keras network.
    reference = peer_logits[tf_name()][0]
    checked = project[0]["candidate"]
    ok_bench, line = worst_agreement(f"resnet-bench ({checked}) vs {tf_name()}", bench_outputs, reference, facts,
                                     facts.tolerance(checked))
    print(line)
    ok_peers, line = worst_agreement(f"{tflite_name()} vs {tf_name()}", peer_logits[tflite_name()], reference,
                                     facts, facts.tolerance("direct"))
    print(line)
    print(own_check_line(project, bench_failed, bench_log))
    if facts.source != "`resnet-bench env --json`":
        print(f"(tolerances and blocks per stage from {facts.source}: the binary has no `env --json`)")

    if args.csv is not None:
        write_csv(args.csv, rows, csv_context(args))
        log(f"wrote {len(rows)} rows to {args.csv}")
    return 0 if ok_bench and ok_peers and not bench_failed else 1


def main(argv=None):
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="keras-peer-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    code = 2
    try:
        load_packages(args.threads)
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
