import ConvCore
import Foundation
import Measurement
import ResNet
import Tuning

/// Turns a run's timings and agreement checks into CSV records.
public struct RunReport {
  public var runId: String
  public var timestamp: String
  public var gitCommit: String
  public var fingerprint: MachineFingerprint
  public var model: ResNetModel
  public var threads: Int
  /// All-threads FP32 FMA peak, GFLOP/s.
  public var peakGflops: Double
  /// How busy the machine was while the run was measured.
  public var load: MachineLoad

  public init(runId: String, timestamp: String, gitCommit: String, fingerprint: MachineFingerprint, model: ResNetModel,
              threads: Int, peakGflops: Double, load: MachineLoad) {
    self.runId = runId
    self.timestamp = timestamp
    self.gitCommit = gitCommit
    self.fingerprint = fingerprint
    self.model = model
    self.threads = threads
    self.peakGflops = peakGflops
    self.load = load
  }

  /// The report of a measured run.
  public init(_ result: NetworkRunResult, runId: String, timestamp: String, gitCommit: String) {
    self.init(runId: runId, timestamp: timestamp, gitCommit: gitCommit, fingerprint: result.fingerprint, model: result.model,
              threads: result.threads, peakGflops: result.peak.allThreads, load: result.load)
  }

  /// Every row of `result`: one per candidate, and per layer with `layers`.
  public func records(_ result: NetworkRunResult, layers: Bool) -> [BenchmarkRecord] {
    var out: [BenchmarkRecord] = []
    for (i, t) in result.timings.enumerated() {
      out.append(networkRecord(t, agreement: result.agreements[i]))
      if layers { out += layerRecords(t, engine: result.candidates[i].engine) }
    }
    return out
  }

  /// A run id from the time and the process id: unique enough to tell runs apart in one file.
  public static func newRunId() -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd'T'HHmmss"
    f.timeZone = TimeZone(identifier: "UTC")
    return "\(f.string(from: Date()))-\(getpid())"
  }

  /// `git rev-parse --short HEAD` of the working directory, or "" outside a repository.
  public static func gitCommit() -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "rev-parse", "--short", "HEAD"]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return "" }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return "" }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  private func base(scope: String, candidate: String) -> BenchmarkRecord {
    BenchmarkRecord([
      "schema": BenchmarkRecord.schemaVersion, "run_id": runId, "timestamp": timestamp, "git_commit": gitCommit,
      "fingerprint": fingerprint.id, "model": model.name, "variant": model.variant.rawValue, "batch": "\(model.batch)",
      "input_size": "\(model.inputSize)", "threads": "\(threads)", "scope": scope, "candidate": candidate,
      "busy": load.isBusy ? "1" : "0", "steal_pct": String(100 * load.stealFraction),
      "other_load_pct": String(100 * load.otherProcessesFraction),
    ])
  }

  private static func timing(_ record: inout BenchmarkRecord, _ s: TimingSummary, flops: Double, peak: Double) {
    record["repetitions"] = "\(s.count)"
    record["median_ms"] = String(s.median * 1e3)
    record["p10_ms"] = String(s.p10 * 1e3)
    record["p90_ms"] = String(s.p90 * 1e3)
    record["mean_ms"] = String(s.mean * 1e3)
    record["cv"] = String(s.coefficientOfVariation)
    record["noisy"] = s.isNoisy ? "1" : "0"
    record["gflops"] = String(flops / s.median / 1e9)
    record["peak_pct"] = peak > 0 ? String(100 * flops / s.median / 1e9 / peak) : ""
  }

  /// The network row of one candidate.
  public func networkRecord(_ t: CandidateTiming, agreement: Agreement?) -> BenchmarkRecord {
    var r = base(scope: "network", candidate: t.name)
    Self.timing(&r, t.summary, flops: Double(model.macs) * 2, peak: peakGflops)
    r["images_per_s"] = String(Double(model.batch) / t.summary.median)
    r["share_pct"] = "100"
    if let a = agreement {
      r["max_error"] = String(a.maxError)
      r["tolerance"] = String(a.tolerance)
      r["top5"] = a.top5Equal ? "same" : "different"
      r["agreement"] = a.passed ? "ok" : "fail"
    } else {
      r["agreement"] = "skipped"
    }
    return r
  }

  /// One row per layer of one candidate, with the backend that actually ran it.
  public func layerRecords(_ t: CandidateTiming, engine: InferenceEngine) -> [BenchmarkRecord] {
    let layerMedians = t.layerSamples.map { TimingSummary($0).median }
    let total = layerMedians.reduce(0, +)
    return model.layers.indices.map { i in
      var r = base(scope: "layer", candidate: t.name)
      let layer = model.layers[i]
      r["layer"] = layer.name
      r["descriptor"] = layer.problem.descriptor
      r["layer_backend"] = engine.bindings[i].backend.name
      r["layer_config"] = engine.bindings[i].config.description
      Self.timing(&r, TimingSummary(t.layerSamples[i]), flops: Double(layer.problem.flops), peak: peakGflops)
      r["share_pct"] = total > 0 ? String(100 * layerMedians[i] / total) : ""
      return r
    }
  }
}

extension RunReport {
  /// The `context` block of `--json` for a network run.
  public func jsonContext(_ r: NetworkRunResult) -> GoogleBenchmarkJSON.Context {
    GoogleBenchmarkJSON.Context(
      date: timestamp, executable: CommandLine.arguments.first ?? "resnet-bench", threads: threads, fingerprint: fingerprint,
      load: load, peak: r.peak, runId: runId, gitCommit: gitCommit,
      fields: ["model": model.name, "variant": model.variant.rawValue, "batch": "\(model.batch)", "input_size": "\(model.inputSize)",
               "classes": "\(model.classes)", "weights": r.weightsSource],
      rounds: r.record.rounds, seed: r.record.seed)
  }
}
