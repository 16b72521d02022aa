import ConvBackends
import ConvCore
import Foundation
import Measurement
import ResNet
import Tuning

/// Everything `run` needs to know; the CLI fills it from its options.
public struct NetworkRunRequest {
  public var model: ResNetModel
  public var backends: [any ConvolutionBackend]
  /// Plan files to time beside the backends (each a row named after its file;
  /// a single plan's row is named `plan`).
  public var plans: [String]
  /// Refuse a plan measured on another machine, build or thread count (default: warn).
  public var strictPlans: Bool
  public var weightsFile: String?
  public var inputFile: String?
  public var seed: UInt64
  public var policy: SamplingPolicy
  /// Check every candidate's logits against the Float64-reference network.
  public var check: Bool
  /// Also time every layer alone (`IsolatedLayers`).
  public var isolated = false
  /// Also record how busy the threads were in each layer (`CandidateTiming.layerBusySamples`).
  public var threadUse = false
  public var pool: ThreadPool

  public init(model: ResNetModel, backends: [any ConvolutionBackend], plans: [String], strictPlans: Bool,
              weightsFile: String?, inputFile: String?, seed: UInt64, policy: SamplingPolicy, check: Bool, pool: ThreadPool) {
    self.model = model
    self.backends = backends
    self.plans = plans
    self.strictPlans = strictPlans
    self.weightsFile = weightsFile
    self.inputFile = inputFile
    self.seed = seed
    self.policy = policy
    self.check = check
    self.pool = pool
  }
}

/// What one `run` measured: every sample of every candidate, network and per
/// layer, their agreement with the reference, the peak and how busy the
/// machine was. The CLI only formats it (table, CSV, JSON).
public struct NetworkRunResult {
  public var model: ResNetModel
  public var threads: Int
  public var fingerprint: MachineFingerprint
  public var peak: FMAPeak.Result
  /// The machine's load over the timed rounds (and the peak's verdict).
  public var load: MachineLoad
  public var record: SamplingRecord
  public var weightsSource: String
  public var candidates: [BenchmarkCandidate]
  public var timings: [CandidateTiming]
  /// One per candidate; nil where the check was skipped.
  public var agreements: [Agreement?]
  /// Per candidate and layer, the median seconds of the layer timed alone (with `isolated`).
  public var isolated: [[Double]]?

  public var failed: Bool { agreements.contains { $0.map { !$0.passed } ?? false } }
}

/// The work behind `resnet-bench run`.
public enum NetworkRun {
  /// A plan file's row name: its file name without `.json`, made unique.
  static func rowNames(for plans: [String], taken: Set<String>) -> [String] {
    if plans.count == 1 { return taken.contains("plan") ? ["plan (\(URL(fileURLWithPath: plans[0]).lastPathComponent))"] : ["plan"] }
    var used = taken, out: [String] = []
    for path in plans {
      let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
      var name = base, n = 2
      while used.contains(name) { name = "\(base)-\(n)"; n += 1 }
      used.insert(name)
      out.append(name)
    }
    return out
  }

  /// Builds the candidates, times them, checks them. `note` receives progress
  /// and warnings (the CLI prints them on stderr).
  public static func execute(_ request: NetworkRunRequest, note: (String) -> Void) throws -> NetworkRunResult {
    let net = request.model, pool = request.pool
    let runnable = request.backends.filter { b in
      if let why = b.availability.reason { note("skipping \(b.name): \(why)"); return false }
      return true
    }
    guard !runnable.isEmpty || !request.plans.isEmpty else {
      throw InputError("no available backend among \(request.backends.map(\.name).joined(separator: ", "))")
    }
    try MemoryBudget.check(net, engines: runnable.count + request.plans.count)
    let here = MachineFingerprint.current(threads: pool.threadCount)
    var assignments: [[(backend: any ConvolutionBackend, config: BackendConfig)]] = []
    for path in request.plans {
      let plan: Plan
      do { plan = try Plan.load(from: URL(fileURLWithPath: path)) } catch let e as PlanError { throw e }
      switch plan.compatibility(with: net, fingerprint: here) {
      case .incompatible(let why): throw PlanError("\(path): \(why)")
      case .otherMachine(let why):
        if request.strictPlans { throw PlanError("\(path): \(why) (--strict)") }
        note("warning: plan \(path) was \(why); its choices may not be the fastest here")
      case .compatible: break
      }
      assignments.append(try plan.assignment(for: net))
    }
    let inputs = try NetworkInputs.load(for: net, weightsFile: request.weightsFile, inputFile: request.inputFile, seed: request.seed)
    note("\(net.name) \(net.variant.rawValue), batch \(net.batch), \(net.inputSize)x\(net.inputSize), \(pool.threadCount) threads, weights: \(inputs.weightsSource)")
    var candidates = try runnable.map { try BenchmarkCandidate.backend($0, model: net, weights: inputs.weights, pool: pool) }
    for (name, (path, assignment)) in zip(rowNames(for: request.plans, taken: Set(candidates.map(\.name))), zip(request.plans, assignments)) {
      candidates.append(try BenchmarkCandidate.plan(assignment, name: name, path: path, model: net, weights: inputs.weights, pool: pool))
    }
    for c in candidates {
      for (layer, binding) in zip(net.layers, c.engine.bindings) where binding.fallbackReason != nil {
        note("\(c.name): \(layer.name) runs on \(binding.backend.name) (\(binding.fallbackReason!))")
      }
    }
    let (timings, record) = NetworkBenchmark.measure(candidates, input: inputs.image, policy: request.policy,
                                                      threadUse: request.threadUse, progress: note)
    // In lockstep the rest of the work (peak, check, output) is one last
    // turn that ends when the process does, so it never overlaps the partner's rounds.
    request.policy.lockstep?.beginFinalTurn()
    let peak = FMAPeak.measure(pool: pool)
    var load = record.load
    load.peakSuspect = peak.suspect
    if load.isBusy { note("warning: the machine was busy while measuring: \(load.summary)") }
    var agreements: [Agreement?] = Array(repeating: nil, count: candidates.count)
    if request.check {
      note("running the Float64-reference network…")
      agreements = try Agreement.check(candidates, timings: timings, model: net, weights: inputs.weights,
                                       input: inputs.image, pool: pool)
    }
    var isolated: [[Double]]?
    if request.isolated {
      note("timing every layer alone…")
      isolated = try candidates.map {
        try IsolatedLayers.measure($0, weights: inputs.weights, policy: SamplingPolicy(warmup: 1, repetitions: request.policy.repetitions),
                                   pool: pool)
      }
    }
    return NetworkRunResult(model: net, threads: pool.threadCount, fingerprint: here, peak: peak, load: load, record: record,
                            weightsSource: inputs.weightsSource, candidates: candidates, timings: timings, agreements: agreements,
                            isolated: isolated)
  }
}

/// An input or usage problem found while running (not while parsing): exit code 2.
public struct InputError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
