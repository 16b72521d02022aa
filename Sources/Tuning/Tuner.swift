import ConvBackends
import ConvCore
import Foundation
import ResNet

/// What the tuner measures and how hard it tries.
public struct TuningOptions {
  /// Backends to consider (unavailable ones are recorded as unsupported).
  public var backends: [any ConvolutionBackend]
  /// Total search time, seconds; shapes share it in proportion to their FLOPs.
  public var budgetSeconds: Double = 120
  /// Accept a candidate only if its error is at most this; nil: each backend's own tolerance.
  public var maxError: Double?
  /// Timed runs for a candidate that survives the first timing.
  public var repetitions = 7
  /// A candidate whose first timing is slower than this multiple of the best so far is dropped.
  public var dropFactor = 2.0
  /// Seeds the weights and input each shape is measured with.
  public var seed: UInt64 = 0
  /// After the per-shape search, time the whole network with the per-shape
  /// choices and with every backend alone, and keep per shape whichever ran
  /// it fastest inside the network.
  public var refineInNetwork = true
  /// Interleaved whole-network rounds of that check.
  public var refinementRounds = 5

  public init(backends: [any ConvolutionBackend]) { self.backends = backends }
}

/// Finds, for every distinct convolution shape of a model, the fastest
/// backend × configuration whose output stays within the accuracy budget.
///
/// Per shape: each candidate is prepared, run once and checked against the
/// Float64 reference (rejected when beyond its budget), then timed once;
/// candidates slower than `dropFactor` × the fastest are dropped, the rest are
/// timed `repetitions` times and the lowest median wins (ties go to the
/// earlier candidate, i.e. the registry's order).
public final class Tuner {
  public let model: ResNetModel
  public let options: TuningOptions
  public let pool: ThreadPool
  private let progress: (String) -> Void

  public init(model: ResNetModel, options: TuningOptions, pool: ThreadPool, progress: @escaping (String) -> Void = { _ in }) {
    self.model = model
    self.options = options
    self.pool = pool
    self.progress = progress
  }

  /// Tunes every shape not already in `previous` (all of them when `previous`
  /// is nil or was measured on another machine, build or thread count).
  public func tune(previous: Plan? = nil, fingerprint: MachineFingerprint) -> Plan {
    let start = Stopwatch.now()
    let shapes = model.distinctShapes
    var reusable: [String: Plan.ShapePlan] = [:]
    if let previous {
      if previous.fingerprintId != fingerprint.id || previous.threads != pool.threadCount {
        progress("previous plan was measured on another machine, build or thread count (\(previous.fingerprintId), \(previous.threads) threads); re-measuring every shape")
      } else {
        for s in previous.shapes { reusable[s.descriptor] = s }
      }
    }
    let toMeasure = shapes.filter { reusable[$0.problem.descriptor] == nil }
    let totalFlops = Double(toMeasure.reduce(0) { $0 + $1.problem.flops })
    var spentFlops = 0.0
    var results: [Plan.ShapePlan] = []
    for (index, shape) in shapes.enumerated() {
      if var old = reusable[shape.problem.descriptor] {
        old.layers = shape.layers
        results.append(old)
        progress("shape \(index + 1)/\(shapes.count) \(shape.problem.descriptor): kept from the previous plan (\(old.backend) \(old.config))")
        continue
      }
      spentFlops += Double(shape.problem.flops)
      // This shape may run until its share of the budget (by FLOPs) is used up.
      let deadline = start + options.budgetSeconds * (totalFlops > 0 ? spentFlops / totalFlops : 1)
      let candidates = measure(shape.problem, deadline: deadline)
      let decided = Self.decide(candidates)
      let chosen = decided.first { $0.status == .chosen }
      results.append(Plan.ShapePlan(
        descriptor: shape.problem.descriptor, layers: shape.layers,
        backend: chosen?.backend ?? "naive", config: chosen?.config ?? "default", candidates: decided))
      let left = max(0, options.budgetSeconds - (Stopwatch.now() - start))
      progress("shape \(index + 1)/\(shapes.count) \(shape.problem.descriptor): "
               + (chosen.map { "best \($0.backend) [\($0.config)] \(String(format: "%.3f", $0.medianMs ?? 0)) ms" } ?? "no candidate accepted")
               + ", \(Int(left)) s of budget left")
    }
    var plan = Plan(
      schemaVersion: Plan.currentSchemaVersion, fingerprint: fingerprint, fingerprintId: fingerprint.id,
      model: model.name, variant: model.variant.rawValue, batch: model.batch, inputSize: model.inputSize,
      classes: model.classes, threads: pool.threadCount, createdAt: ISO8601DateFormatter().string(from: Date()),
      budgetSeconds: options.budgetSeconds, elapsedSeconds: 0, maxError: options.maxError,
      shapes: results, refinement: nil)
    if options.refineInNetwork && !toMeasure.isEmpty {
      refineInNetwork(&plan, only: Set(toMeasure.map { $0.problem.descriptor }))
    }
    plan.elapsedSeconds = Stopwatch.now() - start
    return plan
  }

  /// The per-shape search times each shape alone, with its weights and input
  /// hot in cache from the previous repetition. Inside a network they are not:
  /// a configuration that wins in isolation can lose there (Winograd's
  /// per-thread split wins when its transformed filters stay in L2 between
  /// repetitions, not when 50 other layers run in between). So the network is
  /// timed side by side with the per-shape choices and with each backend alone
  /// (default configurations), and each shape keeps whichever engine ran its
  /// layers fastest in the network, provided that engine's configuration for
  /// it passed the accuracy check of the per-shape search. Only the shapes in
  /// `only` (those just measured) may change.
  func refineInNetwork(_ plan: inout Plan, only: Set<String>) {
    guard let weights = try? ResNetWeights.fold(ResNetWeights.seeded(for: model, seed: options.seed), for: model),
          let assignment = try? plan.bindings(for: model) else { return }
    let planName = "plan (per shape)"
    var engines: [(name: String, engine: InferenceEngine)] = []
    if let e = try? InferenceEngine(model: model, weights: weights, pool: pool, assign: { assignment[$0.name]! }) {
      engines.append((planName, e))
    }
    for backend in options.backends where backend.name != "naive" && backend.availability.isAvailable {
      if let e = try? InferenceEngine(model: model, weights: weights, backend: backend, pool: pool) { engines.append((backend.name, e)) }
    }
    guard engines.count > 1 else { return }
    var rng = SeededGenerator(seed: ~options.seed)
    let image = rng.normals(engines[0].engine.input.count)
    let layerCount = model.layers.count
    var layerSamples = Array(repeating: Array(repeating: [Double](), count: layerCount), count: engines.count)
    var networkSamples = Array(repeating: [Double](), count: engines.count)
    var seconds = [Double](repeating: 0, count: layerCount)
    for e in engines { e.engine.setInput(image); e.engine.run() }
    for _ in 0..<options.refinementRounds {
      for (i, e) in engines.enumerated() {
        let total = seconds.withUnsafeMutableBufferPointer { buf in Stopwatch.time { e.engine.run(layerSeconds: buf.baseAddress) } }
        networkSamples[i].append(total)
        for l in 0..<layerCount { layerSamples[i][l].append(seconds[l]) }
      }
    }
    func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
    let layerMedians = layerSamples.map { $0.map(median) }
    let indexOfLayer = Dictionary(uniqueKeysWithValues: model.layers.enumerated().map { ($1.name, $0) })
    var changed = 0
    for s in plan.shapes.indices where only.contains(plan.shapes[s].descriptor) {
      let layers = plan.shapes[s].layers.compactMap { indexOfLayer[$0] }
      guard let first = layers.first else { continue }
      let cost = engines.indices.map { e in layers.reduce(0) { $0 + layerMedians[e][$1] } }
      let best = cost.indices.min { cost[$0] < cost[$1] }!
      guard best != 0 else { continue }
      let binding = engines[best].engine.bindings[first]
      let problem = model.layers[first].problem
      // An engine built with `.default` runs the backend's default, which is
      // the first of its configurations; name it as the search did.
      let config = (binding.config == .default ? binding.backend.configurations(for: problem).first ?? .default : binding.config).description
      let backend = binding.backend.name
      guard backend != plan.shapes[s].backend || config != plan.shapes[s].config,
            let target = plan.shapes[s].candidates.firstIndex(where: { c in
              c.backend == backend && c.config == config && (c.status == .accepted || c.status == .dropped)
                && (c.maxError ?? .infinity) <= (c.tolerance ?? 0)
            })
      else { continue }
      changed += 1
      let perUse = { (e: Int) in String(format: "%.3f", cost[e] * 1e3 / Double(layers.count)) }
      for c in plan.shapes[s].candidates.indices where plan.shapes[s].candidates[c].status == .chosen {
        plan.shapes[s].candidates[c].status = .accepted
        plan.shapes[s].candidates[c].reason = "fastest alone, but \(perUse(0)) ms per layer inside the network against \(perUse(best)) ms for \(backend) [\(config)]"
      }
      plan.shapes[s].candidates[target].status = .chosen
      plan.shapes[s].candidates[target].reason = "chosen by the in-network check: \(perUse(best)) ms per layer inside the network"
      plan.shapes[s].backend = backend
      plan.shapes[s].config = config
    }
    let networkMs = Dictionary(uniqueKeysWithValues: engines.indices.map { (engines[$0].name, median(networkSamples[$0]) * 1e3) })
    plan.refinement = Plan.Refinement(networkMs: networkMs, changedShapes: changed, rounds: options.refinementRounds)
    progress("in-network check: " + engines.indices.map { "\(engines[$0].name) \(String(format: "%.2f", networkMs[engines[$0].name]!)) ms" }.joined(separator: ", ")
             + "; \(changed) shape(s) changed")
  }

  /// Candidate order: backends that are good general defaults first (so a
  /// tight budget still measures a sensible choice), the rest after.
  private var orderedBackends: [any ConvolutionBackend] {
    let preferred = BackendRegistry.fallbackOrder.filter { $0.networkRepetitionCap == nil }.map(\.name)
    let first = preferred.compactMap { name in options.backends.first { $0.name == name } }
    return first + options.backends.filter { b in !first.contains { $0.name == b.name } }
  }

  /// Measures every candidate for one shape (statuses still provisional: see `decide`).
  func measure(_ problem: ConvProblem, deadline: Double) -> [Plan.Candidate] {
    let weights = ConvWeights.random(for: problem, seed: options.seed)
    var rng = SeededGenerator(seed: ~options.seed)
    let input = AlignedBuffer(rng.normals(problem.inputCount))
    let output = AlignedBuffer(count: problem.outputCount)
    let reference = (try? ReferenceBackend().prepare(problem, weights: weights, config: .default))?
      .runOnce(input.array, relu: true, pool: pool) ?? []
    var candidates: [Plan.Candidate] = []
    var timed: [(index: Int, prepared: PreparedConvolution, workspace: Workspace, samples: [Double])] = []
    for backend in orderedBackends {
      if case .no(let why) = backend.canRun(problem) {
        candidates.append(.init(backend: backend.name, config: "-", status: .unsupported, reason: why))
        continue
      }
      for config in backend.configurations(for: problem) {
        let name = config.description
        if Stopwatch.now() > deadline && !timed.isEmpty {
          candidates.append(.init(backend: backend.name, config: name, status: .skipped, reason: "budget exhausted"))
          continue
        }
        let tolerance = options.maxError ?? backend.tolerance(for: problem, config: config)
        let prepared: PreparedConvolution
        do { prepared = try backend.prepare(problem, weights: weights, config: config) } catch {
          candidates.append(.init(backend: backend.name, config: name, status: .rejected, tolerance: tolerance, reason: "prepare failed: \(error)"))
          continue
        }
        let workspace = Workspace(byteCount: prepared.workspaceBytes)
        let run = {
          prepared.run(input: input.pointer, output: output.pointer, residual: nil, relu: true,
                       workspace: workspace.pointer, pool: self.pool)
        }
        run()
        let error = ErrorMetric.maxError(output.array, reference: reference)
        // A second untimed run: the first call into a library may start its threads.
        run()
        if !(error <= tolerance) {
          candidates.append(.init(backend: backend.name, config: name, status: .rejected, maxError: error, tolerance: tolerance,
                                  reason: "error \(String(format: "%.2e", error)) exceeds the budget \(String(format: "%.2e", tolerance))"))
          continue
        }
        // The drop decision rests on the better of two runs, so one hiccup does not drop a candidate.
        let first = min(Stopwatch.time(run), Stopwatch.time(run))
        candidates.append(.init(backend: backend.name, config: name, status: .accepted, maxError: error, tolerance: tolerance))
        timed.append((candidates.count - 1, prepared, workspace, [first]))
      }
    }
    guard let best = timed.map({ $0.samples[0] }).min() else { return candidates }
    for i in timed.indices {
      let index = timed[i].index
      if timed[i].samples[0] > options.dropFactor * best {
        candidates[index].status = .dropped
        candidates[index].reason = "first run \(String(format: "%.3f", timed[i].samples[0] * 1e3)) ms, slower than \(options.dropFactor)× the best \(String(format: "%.3f", best * 1e3)) ms"
      } else {
        let prepared = timed[i].prepared, workspace = timed[i].workspace
        while timed[i].samples.count < options.repetitions && (Stopwatch.now() < deadline || timed[i].samples.count < 3) {
          timed[i].samples.append(Stopwatch.time {
            prepared.run(input: input.pointer, output: output.pointer, residual: nil, relu: true,
                         workspace: workspace.pointer, pool: self.pool)
          })
        }
      }
      let sorted = timed[i].samples.sorted()
      let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
      candidates[index].medianMs = median * 1e3
      candidates[index].gflops = Double(problem.flops) / median / 1e9
      candidates[index].repetitions = sorted.count
    }
    return candidates
  }

  /// Marks the fastest accepted candidate `chosen`. Only `accepted` candidates
  /// with a time compete; on equal medians the earlier candidate wins.
  public static func decide(_ candidates: [Plan.Candidate]) -> [Plan.Candidate] {
    var out = candidates
    var best: Int?
    for (i, c) in out.enumerated() where c.status == .accepted {
      guard let t = c.medianMs else { continue }
      if let b = best, let bt = out[b].medianMs, bt <= t { continue }
      best = i
    }
    if let best { out[best].status = .chosen }
    return out
  }
}
