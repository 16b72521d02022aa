import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import ResNet
import Tuning

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Time full ResNet inference on each backend side by side and check that all agree with the Float64 reference.",
    discussion: """
      After a warm-up, backends are run round by round (A B C A B C …). Each
      backend's logits are compared with those of the Float64-reference network;
      a backend beyond its tolerance or with a different top-5 is named, with the
      first layer where it diverges, and the command exits 1.

      Examples:
        resnet-bench run
        resnet-bench run --backends naive --repetitions 3
        resnet-bench run --model resnet18 --size 112 --backends all --dump-logits logits.npy
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var threading: ThreadOptions

  @Option(help: "Comma-separated backends, or 'all' (every available one).")
  var backends: String = "all"

  @Option(name: .customLong("backend"), help: "A single backend (same as --backends NAME).")
  var backend: String?

  @Option(help: "Timed inferences per backend (the naive backend is capped at 3).")
  var repetitions: Int = 10

  @Option(help: "Keep timing each backend until it has run this many seconds (up to 10× --repetitions).")
  var minTime: Double = 0

  @Flag(help: "Also report every layer's time on every backend and its share of the total.")
  var layers = false

  @Option(help: "Write CSV rows (one per backend or plan, and per layer with --layers) to FILE, or '-' for stdout.")
  var csv: String?

  @Option(help: "Identifier stored in every CSV row (default: time and process id).")
  var runId: String?

  @Option(help: "Untimed inferences per backend before timing.")
  var warmup: Int = 1

  @Option(help: "Seed of the weights and input image, when not read from files.")
  var seed: UInt64 = 0

  @Option(help: "Weights file (safetensors, torchvision state_dict keys, OIHW). Default: seeded weights.")
  var weights: String?

  @Option(help: "Input image(s): float32 .npy, NHWC [batch, size, size, 3]. Default: a seeded image.")
  var input: String?

  @Option(help: "Write the first backend's logits to this .npy file ([batch, classes], float32).")
  var dumpLogits: String?

  @Option(help: "A plan from `tune`: also time the network with each layer on its planned backend (the row named 'plan').")
  var plan: String?

  @Flag(help: "Refuse a plan measured on another machine, build or thread count (default: warn).")
  var strict = false

  @Flag(help: "Skip the Float64-reference check (faster; nothing is verified).")
  var noCheck = false

  func validate() throws {
    guard repetitions >= 1 && repetitions <= 100_000 else { throw ValidationError("--repetitions must be between 1 and 100000 (got \(repetitions))") }
    guard warmup >= 0 && warmup <= 1000 else { throw ValidationError("--warmup must be between 0 and 1000 (got \(warmup))") }
    guard minTime >= 0 && minTime <= 3600 else { throw ValidationError("--min-time must be between 0 and 3600 seconds (got \(minTime))") }
  }

  func run() throws {
    let pool = threading.configure()
    let net = try model.build()
    let chosen = try BackendRegistry.resolve(backend ?? backends)
    let runnable = chosen.filter { b in
      if let why = b.availability.reason { note("skipping \(b.name): \(why)"); return false }
      return true
    }
    guard !runnable.isEmpty else { throw InputError("no available backend among '\(backend ?? backends)'") }
    try MemoryBudget.check(net, engines: runnable.count + (plan == nil ? 0 : 1))
    let inputs = try NetworkInputs.load(for: net, weightsFile: weights, inputFile: input, seed: seed)

    var planAssignment: [String: (any ConvolutionBackend, BackendConfig)]?
    let here = MachineFingerprint.current(threads: pool.threadCount)
    let plan = self.plan ?? PlanSearch.find(in: "results", for: net, fingerprint: here)
    if self.plan == nil, let plan { note("using \(plan), a plan for this model made on this machine (fingerprint \(here.id))") }
    if let plan {
      let loaded = try Plan.load(from: URL(fileURLWithPath: plan))
      planAssignment = try loaded.bindings(for: net)
      if loaded.fingerprintId != here.id || loaded.threads != pool.threadCount {
        let message = "plan \(plan) was measured on machine \(loaded.fingerprintId) with \(loaded.threads) threads; this is \(here.id) with \(pool.threadCount) threads"
        if strict { throw InputError(message) }
        note("warning: \(message); its choices may not be the fastest here")
      }
    }
    note("\(net.name) \(net.variant.rawValue), batch \(net.batch), \(net.inputSize)x\(net.inputSize), \(pool.threadCount) threads, weights: \(inputs.weightsSource)")
    var candidates = try runnable.map { try BenchmarkCandidate.backend($0, model: net, weights: inputs.weights, pool: pool) }
    if let planAssignment {
      do { candidates.append(try BenchmarkCandidate.plan(planAssignment, model: net, weights: inputs.weights, pool: pool)) }
      catch let e as BackendError { throw InputError("plan \(plan!): \(e.message)") }
    }
    for c in candidates {
      for (layer, binding) in zip(net.layers, c.engine.bindings) where binding.fallbackReason != nil {
        note("\(c.name): \(layer.name) runs on \(binding.backend.name) (\(binding.fallbackReason!))")
      }
    }
    let timings = NetworkBenchmark.measure(
      candidates, input: inputs.image, policy: RepetitionPolicy(warmup: warmup, repetitions: repetitions, minSeconds: minTime),
      progress: { note($0) })
    let peak = FMAPeak.measure(pool: pool)

    var agreements: [Agreement?] = Array(repeating: nil, count: candidates.count)
    if !noCheck {
      note("running the Float64-reference network…")
      agreements = try Agreement.check(candidates, timings: timings, model: net, weights: inputs.weights, input: inputs.image, pool: pool)
    }

    let gflop = Double(net.macs) * 2 / 1e9
    let report = RunReport(runId: runId ?? RunReport.newRunId(), timestamp: ISO8601DateFormatter().string(from: Date()),
                           gitCommit: RunReport.gitCommit(), fingerprint: here, model: net, threads: pool.threadCount,
                           peakGflops: peak.allThreads)
    var records: [BenchmarkRecord] = []
    for (i, t) in timings.enumerated() {
      records.append(report.networkRecord(t, agreement: agreements[i]))
      if layers { records += report.layerRecords(t, engine: candidates[i].engine) }
    }
    if layers { printLayerTable(net, timings: timings, candidates: candidates) }
    var table = TextTable(["backend", "median ms", "p10 ms", "p90 ms", "img/s", "GFLOP/s", "% peak", "CV", "max error", "top-5", "check"])
    for (i, t) in timings.enumerated() {
      let s = t.summary
      let a = agreements[i]
      table.add([
        t.name, fixed(s.median * 1e3, 2), fixed(s.p10 * 1e3, 2), fixed(s.p90 * 1e3, 2),
        fixed(Double(net.batch) / s.median, 1), fixed(gflop / s.median, 1), fixed(100 * gflop / s.median / peak.allThreads, 1),
        fixed(s.coefficientOfVariation * 100, 1) + "%" + (s.isNoisy ? " noisy" : ""),
        a.map { scientific($0.maxError) } ?? "-", a.map { $0.top5Equal ? "same" : "DIFFERENT" } ?? "-",
        a.map { $0.passed ? "ok" : "FAIL" } ?? "skipped",
      ])
    }
    if csv != "-" {
      print(table.render(), terminator: "")
      print("FMA peak \(fixed(peak.allThreads, 1)) GFLOP/s on \(peak.threads) threads (measured now); fingerprint \(here.id)")
    }
    if let csv {
      let text = BenchmarkRecord.header() + records.map { $0.line() }.joined()
      if csv == "-" { FileHandle.standardOutput.write(Data(text.utf8)) } else {
        try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: csv))
        note("wrote \(records.count) rows to \(csv)")
      }
    }
    if let first = timings.first, csv != "-" {
      print("top-5 (\(first.name), image 0):", Pooling.topK(first.probabilities[0..<net.classes], k: 5)
        .map { "class \($0) p=\(fixed(Double(first.probabilities[$0]), 4))" }.joined(separator: ", "))
    }
    if let first = timings.first {
      if let dumpLogits {
        try NpyFile.write(NpyFile.Array(shape: [net.batch, net.classes], values: first.logits), to: URL(fileURLWithPath: dumpLogits))
        note("wrote \(first.name)'s logits to \(dumpLogits)")
      }
    }
    var failed = false
    for (i, a) in agreements.enumerated() {
      guard let a, !a.passed else { continue }
      failed = true
      note("DISAGREEMENT: \(timings[i].name): logits max error \(scientific(a.maxError)) (tolerance \(scientific(a.tolerance))), top-5 \(a.top5Equal ? "same" : "different"); first diverging layer: \(a.divergingLayer ?? "?")"
           + (a.divergingLayerError.map { " (error \(scientific($0)))" } ?? ""))
    }
    if failed { throw ExitCode(1) }
  }

  /// Per-layer medians (ms) of every candidate, the winner of each layer, and its share of the winner's total.
  private func printLayerTable(_ net: ResNetModel, timings: [CandidateTiming], candidates: [BenchmarkCandidate]) {
    let medians = timings.map { t in t.layerSamples.map { TimingSummary($0).median * 1e3 } }
    let totals = medians.map { $0.reduce(0, +) }
    var table = TextTable(["layer"] + timings.map { $0.name + " ms" } + ["fastest", "share"])
    for (l, layer) in net.layers.enumerated() {
      let times = medians.map { $0[l] }
      let best = times.indices.min { times[$0] < times[$1] } ?? 0
      table.add([layer.name] + times.map { fixed($0, 3) } + [timings[best].name, fixed(100 * times[best] / max(totals[best], 1e-12), 1) + "%"])
    }
    table.add(["total"] + totals.map { fixed($0, 2) } + ["", ""])
    if csv != "-" { print(table.render(), terminator: "") }
  }
}
