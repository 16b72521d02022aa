import ConvCore
import Foundation
import Measurement
import Tuning

/// Raw samples in Google Benchmark's JSON format (the file `--benchmark_out`
/// writes), so tools that read it — its `tools/compare.py`,
/// github-action-benchmark, Bencher — read ours:
///
///     { "context": { "date", "host_name", "executable", "num_cpus", "caches", "load_avg",
///                    "library_build_type", "resnet_bench": { fingerprint, machine, load, … } },
///       "benchmarks": [ { "name", "run_name", "run_type": "iteration", "repetitions",
///                         "repetition_index", "threads", "iterations": 1, "real_time",
///                         "cpu_time", "time_unit": "ms", … }, …,
///                       { "name": "<run_name>_median", "run_type": "aggregate",
///                         "aggregate_name": "median", "aggregate_unit": "time", … }, … ] }
///
/// One `iteration` entry per timed repetition of every series (a candidate's
/// whole network, or one of its layers), then the median, mean and standard
/// deviation aggregates (and the coefficient of variation, `aggregate_unit`
/// "percentage", as Google Benchmark writes it). `cpu_time` is the calling
/// thread's CPU time, as in Google Benchmark. Fields this project adds
/// (`candidate`, `scope`, `layer`, `layer_backend`, …) are ignored by those tools.
public enum GoogleBenchmarkJSON {
  /// Version of the `resnet_bench` context block.
  public static let contextSchema = 1

  /// One timed series: what a Google Benchmark "benchmark" with repetitions is.
  public struct Series: Sendable, Equatable {
    /// The run name shared by its entries, e.g. `resnet50_v1.5/batch:1/size:224/threads:2/plan/network`.
    public var name: String
    /// Seconds of each repetition, in order.
    public var samples: [Double]
    /// CPU seconds of the calling thread, per repetition (as many as `samples`).
    public var cpuSamples: [Double]
    /// Extra string fields written with every entry (`candidate`, `scope`, `layer`, …).
    public var fields: [String: String]
    /// Direct-convolution FLOPs of one repetition (for GFLOP/s), 0 when unknown.
    public var flops: Double

    public init(name: String, samples: [Double], cpuSamples: [Double], fields: [String: String], flops: Double) {
      self.name = name
      self.samples = samples
      self.cpuSamples = cpuSamples
      self.fields = fields
      self.flops = flops
    }
  }

  /// The `context` block: Google Benchmark's own fields and ours.
  public struct Context {
    public var date: String
    public var executable: String
    public var threads: Int
    public var fingerprint: MachineFingerprint
    public var load: MachineLoad
    public var peak: FMAPeak.Result
    public var runId: String
    public var gitCommit: String
    /// Model, variant, batch, size, weights… as strings.
    public var fields: [String: String]
    public var rounds: [[Int]]
    public var seed: UInt64

    public init(date: String, executable: String, threads: Int, fingerprint: MachineFingerprint, load: MachineLoad,
                peak: FMAPeak.Result, runId: String, gitCommit: String, fields: [String: String], rounds: [[Int]], seed: UInt64) {
      self.date = date
      self.executable = executable
      self.threads = threads
      self.fingerprint = fingerprint
      self.load = load
      self.peak = peak
      self.runId = runId
      self.gitCommit = gitCommit
      self.fields = fields
      self.rounds = rounds
      self.seed = seed
    }
  }

  /// The document for `series` measured under `context`.
  public static func encode(_ series: [Series], context: Context) throws -> Data {
    let m = context.fingerprint.machine ?? MachineModel.current
    let caches: [[String: Any]] = [
      ["type": "Data", "level": 1, "size": m.l1DataBytes, "num_sharing": 1],
      ["type": "Unified", "level": 2, "size": m.l2Bytes, "num_sharing": 1],
      ["type": "Unified", "level": 3, "size": m.l3Bytes, "num_sharing": m.cores],
    ]
    var ours: [String: Any] = [
      "schema": contextSchema, "fingerprint": context.fingerprint.id, "run_id": context.runId, "git_commit": context.gitCommit,
      "build": context.fingerprint.build, "cpu": context.fingerprint.cpuModel, "cpu_family": context.fingerprint.cpuFamily,
      "vector_floats": m.vectorFloats, "threads": context.threads,
      "peak_gflops": context.peak.allThreads, "peak_single_thread_gflops": context.peak.singleThread, "peak_suspect": context.peak.suspect,
      "steal_fraction": context.load.stealFraction, "other_processes_fraction": context.load.otherProcessesFraction,
      "load_average": context.load.loadAverage, "busy": context.load.isBusy,
      "sampling_seed": String(context.seed), "rounds": context.rounds,
    ]
    for (k, v) in context.fields { ours[k] = v }
    let loads = loadAverages()
    let contextObject: [String: Any] = [
      "date": context.date, "host_name": ProcessInfo.processInfo.hostName, "executable": context.executable,
      "num_cpus": m.cores, "mhz_per_cpu": 0, "cpu_scaling_enabled": false, "caches": caches, "load_avg": loads,
      "library_build_type": context.fingerprint.build.hasPrefix("debug") ? "debug" : "release",
      "resnet_bench": ours,
    ]
    var entries: [[String: Any]] = []
    for (family, s) in series.enumerated() {
      var common: [String: Any] = [
        "run_name": s.name, "family_index": family, "per_family_instance_index": 0,
        "repetitions": s.samples.count, "threads": context.threads, "iterations": 1, "time_unit": "ms",
      ]
      for (k, v) in s.fields { common[k] = v }
      for (i, t) in s.samples.enumerated() {
        var e = common
        e["name"] = s.name
        e["run_type"] = "iteration"
        e["repetition_index"] = i
        e["real_time"] = t * 1e3
        e["cpu_time"] = (i < s.cpuSamples.count ? s.cpuSamples[i] : t) * 1e3
        if s.flops > 0 && t > 0 { e["gflops"] = s.flops / t / 1e9 }
        entries.append(e)
      }
      guard !s.samples.isEmpty else { continue }
      let real = TimingSummary(s.samples), cpu = TimingSummary(s.cpuSamples.isEmpty ? s.samples : s.cpuSamples)
      for (aggregate, r, c, unit) in [("median", real.median, cpu.median, "time"), ("mean", real.mean, cpu.mean, "time"),
                                       ("stddev", real.standardDeviation, cpu.standardDeviation, "time"),
                                       ("cv", real.coefficientOfVariation, cpu.coefficientOfVariation, "percentage")] {
        var e = common
        e["name"] = "\(s.name)_\(aggregate)"
        e["run_type"] = "aggregate"
        e["aggregate_name"] = aggregate
        e["aggregate_unit"] = unit
        e["real_time"] = unit == "time" ? r * 1e3 : r
        e["cpu_time"] = unit == "time" ? c * 1e3 : c
        entries.append(e)
      }
    }
    return try JSONSerialization.data(withJSONObject: ["context": contextObject, "benchmarks": entries],
                                      options: [.prettyPrinted, .sortedKeys])
  }

  static func loadAverages() -> [Double] {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
    return text.split(separator: " ").prefix(3).compactMap { Double($0) }
  }

  /// What a results file holds: its series and the context fields compare uses.
  public struct Document: Sendable {
    public var source: String
    public var series: [Series]
    /// `context.resnet_bench.fingerprint`, when present.
    public var fingerprint: String?
    /// `context.resnet_bench.busy`, when present.
    public var busy: Bool
    /// The string and integer fields of `context.resnet_bench` (model, variant, batch, threads, …).
    public var context: [String: String]
  }

  /// A results file that cannot be used: one line naming the file and the problem.
  public struct FormatError: Error, CustomStringConvertible {
    public let description: String
  }

  /// Largest file read (a results file of a ResNet-152 run with every layer is a few MB).
  public static let maxFileBytes = 256 * 1024 * 1024

  public static func load(_ path: String) throws -> Document {
    let url = URL(fileURLWithPath: path)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    if let size, size > maxFileBytes { throw FormatError(description: "\(path): \(size) bytes, larger than the \(maxFileBytes)-byte limit") }
    guard let data = try? Data(contentsOf: url) else { throw FormatError(description: "\(path): cannot read") }
    return try decode(data, source: path)
  }

  /// Reads a Google Benchmark JSON document: iteration entries grouped by name
  /// (in `repetition_index` order); for a series with no iteration entries,
  /// its `median` aggregate stands as one sample.
  public static func decode(_ data: Data, source: String) throws -> Document {
    func fail(_ why: String) -> FormatError { FormatError(description: "\(source): \(why)") }
    let object: Any
    do { object = try JSONSerialization.jsonObject(with: data) } catch { throw fail("not JSON (\(error.localizedDescription.split(separator: "\n").first ?? ""))") }
    guard let root = object as? [String: Any] else { throw fail("the top level is not an object") }
    guard let list = root["benchmarks"] as? [Any] else { throw fail("no 'benchmarks' array") }
    let ours = (root["context"] as? [String: Any])?["resnet_bench"] as? [String: Any]
    var order: [String] = []
    var iterations: [String: [(index: Int, real: Double, cpu: Double)]] = [:]
    var medians: [String: (real: Double, cpu: Double)] = [:]
    var fields: [String: [String: String]] = [:]
    let scale: [String: Double] = ["ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1]
    for (i, any) in list.enumerated() {
      guard let e = any as? [String: Any] else { throw fail("benchmarks[\(i)] is not an object") }
      guard let name = e["name"] as? String, !name.isEmpty else { throw fail("benchmarks[\(i)] has no 'name'") }
      let runName = (e["run_name"] as? String) ?? name
      guard let unitName = e["time_unit"] as? String, let unit = scale[unitName] else {
        throw fail("benchmarks[\(i)] ('\(printable(name))') has no known 'time_unit' (ns, us, ms, s)")
      }
      guard let real = (e["real_time"] as? NSNumber)?.doubleValue, real.isFinite, real >= 0 else {
        throw fail("benchmarks[\(i)] ('\(printable(name))') has no non-negative finite 'real_time'")
      }
      let cpu = (e["cpu_time"] as? NSNumber)?.doubleValue ?? real
      guard cpu.isFinite, cpu >= 0 else { throw fail("benchmarks[\(i)] ('\(printable(name))') has a 'cpu_time' that is not a non-negative finite number") }
      let runType = (e["run_type"] as? String) ?? "iteration"
      if fields[runName] == nil { order.append(runName) }
      if fields[runName] == nil {
        var f: [String: String] = [:]
        for key in ["candidate", "scope", "layer", "descriptor", "layer_backend", "layer_config", "model", "variant"] {
          if let v = e[key] as? String { f[key] = v }
        }
        fields[runName] = f
      }
      switch runType {
      case "iteration":
        // Not `intValue`: a number such as 1e300 must not trap or wrap.
        let index = (e["repetition_index"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue.rounded(.towardZero)) }
          ?? iterations[runName, default: []].count
        iterations[runName, default: []].append((index, real * unit, cpu * unit))
      case "aggregate":
        if (e["aggregate_name"] as? String) == "median" { medians[runName] = (real * unit, cpu * unit) }
      default:
        throw fail("benchmarks[\(i)] ('\(printable(name))') has run_type '\(printable(runType))'; expected iteration or aggregate")
      }
    }
    let series = order.compactMap { name -> Series? in
      if let its = iterations[name]?.sorted(by: { $0.index < $1.index }) {
        return Series(name: name, samples: its.map(\.real), cpuSamples: its.map(\.cpu), fields: fields[name] ?? [:], flops: 0)
      }
      guard let m = medians[name] else { return nil }
      return Series(name: name, samples: [m.real], cpuSamples: [m.cpu], fields: fields[name] ?? [:], flops: 0)
    }
    if series.isEmpty { throw fail("no benchmark with iterations or a median") }
    var context: [String: String] = [:]
    for (key, value) in ours ?? [:] {
      if let text = value as? String { context[key] = text }
      if let n = value as? NSNumber, let i = Int(exactly: n.doubleValue) { context[key] = String(i) }
    }
    return Document(source: source, series: series, fingerprint: ours?["fingerprint"] as? String,
                    busy: (ours?["busy"] as? Bool) ?? false, context: context)
  }
}

extension GoogleBenchmarkJSON {
  /// The series of a network run: per candidate its network, and with
  /// `layers` every layer. Names encode what the CSV's identity columns do.
  public static func series(_ result: NetworkRunResult, layers: Bool) -> [Series] {
    let m = result.model
    let prefix = "\(m.name)_\(m.variant.rawValue)/batch:\(m.batch)/size:\(m.inputSize)/threads:\(result.threads)"
    var out: [Series] = []
    for (i, t) in result.timings.enumerated() {
      out.append(Series(name: "\(prefix)/\(t.name)/network", samples: t.samples, cpuSamples: t.cpuSamples,
                        fields: ["candidate": t.name, "scope": "network", "model": m.name, "variant": m.variant.rawValue],
                        flops: Double(m.macs) * 2))
      guard layers else { continue }
      let engine = result.candidates[i].engine
      for (l, layer) in m.layers.enumerated() {
        out.append(Series(
          name: "\(prefix)/\(t.name)/\(layer.name)", samples: t.layerSamples[l], cpuSamples: [],
          fields: ["candidate": t.name, "scope": "layer", "layer": layer.name, "descriptor": layer.problem.descriptor,
                   "layer_backend": engine.bindings[l].backend.name, "layer_config": engine.bindings[l].config.description],
          flops: Double(layer.problem.flops)))
      }
    }
    return out
  }
}
