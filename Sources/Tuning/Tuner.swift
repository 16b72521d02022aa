import ConvBackends
import ConvCore
import Foundation
import Measurement
import ResNet

/// What the tuner measures and how hard it tries.
public struct TuningOptions {
  /// Backends to consider (unavailable ones are recorded as unsupported).
  public var backends: [any ConvolutionBackend]
  /// Total search time, seconds; shapes share it in proportion to their FLOPs.
  public var budgetSeconds: Double = 120
  /// Accept a candidate only if its error is at most this; nil: each backend's own tolerance.
  public var maxError: Double?
  /// Interleaved timed rounds per shape (every surviving candidate once per round).
  public var repetitions = 9
  /// A candidate whose screening time is slower than this multiple of the best is dropped.
  public var dropFactor = 2.0
  /// Seeds the weights and input each shape is measured with, and the order of the rounds.
  public var seed: UInt64 = 0
  /// After the per-shape search, time the whole network with the per-shape
  /// choices and with every backend alone, and let a shape move to whichever
  /// ran it clearly faster inside the network.
  public var refineInNetwork = true
  /// The fewest interleaved whole-network rounds of that check (it takes up
  /// to 10× as many while the budget lasts). Its 95% holds for all the shapes it may
  /// change together (24 for ResNet-50, so each interval is at 99.8%), and
  /// fewer than 10 pairs cannot bound a signed-rank interval that wide.
  public var refinementRounds = 12
  /// The machine the configurations are drawn for.
  public var machine: MachineModel = .current
  /// Time every candidate with its packed weights evicted from the caches
  /// first (`CacheEviction`). Inside a network they always arrive from
  /// memory (ResNet-50 streams about 100 MB of weights per inference), so a
  /// warm-weight timing favours the candidates that read more weight bytes
  /// or read them several times.
  public var coldWeights = true

  public init(backends: [any ConvolutionBackend]) { self.backends = backends }
}

/// Finds, for every distinct convolution shape of a model, the fastest
/// backend × configuration whose output stays within the accuracy budget,
/// and says where it cannot tell.
///
/// Per shape (one `LayerTrial`): each candidate is prepared and checked
/// against the Float64 reference (NaN-filled output, epilogue on and off);
/// the accepted ones are screened in two interleaved rounds, those slower than
/// `dropFactor` × the best dropped, and the rest timed in `repetitions`
/// interleaved, shuffled rounds. Each is compared with the fastest (lowest
/// median) round by round (`RatioEstimate.paired`); one whose interval comes
/// within `tieMargin` of no difference is `tied`. Among the fastest and the
/// candidates tied with it the choice is deterministic (`preference`), so
/// re-tuning reproduces the plan wherever the measurements cannot tell
/// candidates apart.
public final class Tuner {
  public let model: ResNetModel
  public let options: TuningOptions
  public let pool: ThreadPool
  private let progress: (String) -> Void

  /// A slowdown below this (1%) is not worth a different choice: a candidate
  /// whose interval's lower end lies below 1 + tieMargin is tied.
  public static let tieMargin = 0.01
  /// A candidate whose paired ratio to the fastest is above this (3%) is never
  /// tied, whatever its interval. With many candidates per shape the
  /// interval is at so high a confidence (99.8% for 26 candidates) that a
  /// handful of rounds cannot bound it (9 signed-rank pairs reach 99.6% at
  /// most); without this limit every candidate of such a shape counted as
  /// tied and the preferred one was chosen even at 1.4× the fastest's time.
  public static let tieRatioLimit = 1.03
  /// The chance, for one shape, that any true tie among its candidates is
  /// reported as a difference (split over the candidates compared).
  public static let tieRisk = 0.05
  /// Screening rounds before the drop decision.
  static let screeningRounds = 2
  /// The fewest timed rounds a surviving candidate gets, whatever the budget.
  /// Five pairs cannot bound a 95% signed-rank interval at all (every
  /// candidate would be tied); with 8 the interval runs from the 4th
  /// smallest to the 4th largest of the 36 Walsh averages.
  static let minimumRounds = 8

  public init(model: ResNetModel, options: TuningOptions, pool: ThreadPool, progress: @escaping (String) -> Void = { _ in }) {
    self.model = model
    self.options = options
    self.pool = pool
    self.progress = progress
  }

  /// Tunes every shape not already in `previous` (all of them when `previous`
  /// is nil or was measured on another machine, build or thread count).
  ///
  /// `incumbent`, a complete plan for this model, runs beside the new choices
  /// in the in-network check; when it is faster there (`keepsIncumbent`) it is
  /// what `tune` returns, with that check's figures as its refinement.
  public func tune(previous: Plan? = nil, incumbent: Plan? = nil, fingerprint: MachineFingerprint) -> Plan {
    let start = Stopwatch.now()
    let loadStart = MachineLoad.Snapshot.now()
    let shapes = model.distinctShapes
    var reusable: [ConvProblem: Plan.ShapePlan] = [:]
    if let previous {
      if case .otherMachine(let why) = previous.compatibility(with: model, fingerprint: fingerprint) {
        progress("previous plan was \(why); re-measuring every shape")
      } else if (previous.coldWeights ?? false) != options.coldWeights {
        progress("previous plan was timed with \(previous.coldWeights == true ? "cold" : "warm") weights; re-measuring every shape")
      } else {
        for s in previous.shapes { if let p = try? ConvProblem(descriptor: s.descriptor) { reusable[p] = s } }
      }
    }
    let toMeasure = shapes.filter { reusable[$0.problem] == nil }
    let totalFlops = Double(toMeasure.reduce(0) { $0 + $1.problem.flops })
    var spentFlops = 0.0
    var results: [Plan.ShapePlan] = []
    for (index, shape) in shapes.enumerated() {
      if var old = reusable[shape.problem] {
        old.layers = shape.layers
        results.append(old)
        progress("shape \(index + 1)/\(shapes.count) \(shape.problem.descriptor): kept from the previous plan (\(old.backend) \(old.config))")
        continue
      }
      spentFlops += Double(shape.problem.flops)
      // This shape may run until its share of the budget (by FLOPs) is used up.
      let deadline = start + options.budgetSeconds * (totalFlops > 0 ? spentFlops / totalFlops : 1)
      let candidates = measure(shape.problem, deadline: deadline, seed: options.seed &+ UInt64(index))
      let decided = Self.decide(candidates)
      let chosen = decided.first { $0.status == .chosen }
      results.append(Plan.ShapePlan(
        descriptor: shape.problem.descriptor, layers: shape.layers,
        backend: chosen?.backend ?? "naive", config: chosen?.config ?? "default", candidates: decided))
      let left = max(0, options.budgetSeconds - (Stopwatch.now() - start))
      let ties = decided.filter { $0.tied == true }.count
      progress("shape \(index + 1)/\(shapes.count) \(shape.problem.descriptor): "
               + (chosen.map { "\($0.backend) [\($0.config)] \(String(format: "%.3f", $0.medianMs ?? 0)) ms" } ?? "no candidate accepted")
               + (ties > 0 ? ", \(ties) tied with the fastest" : "") + ", \(Int(left)) s of budget left")
    }
    var plan = Plan(
      schemaVersion: Plan.currentSchemaVersion, fingerprint: fingerprint, fingerprintId: fingerprint.id,
      model: model.name, variant: model.variant.rawValue, batch: model.batch, inputSize: model.inputSize,
      classes: model.classes, threads: pool.threadCount, createdAt: ISO8601DateFormatter().string(from: Date()),
      budgetSeconds: options.budgetSeconds, elapsedSeconds: 0, maxError: options.maxError,
      shapes: results, refinement: nil, load: nil, coldWeights: options.coldWeights)
    var kept = false
    if options.refineInNetwork && (!toMeasure.isEmpty || incumbent != nil) {
      kept = refineInNetwork(&plan, only: Set(toMeasure.map(\.problem)), incumbent: incumbent,
                             budgetLeft: max(0, options.budgetSeconds - (Stopwatch.now() - start)))
    }
    plan.elapsedSeconds = Stopwatch.now() - start
    plan.load = MachineLoad.between(loadStart, .now(), cores: options.machine.cores)
    // The incumbent keeps its own shapes, timings and provenance; only the
    // check that kept it is this tune's.
    if kept, var incumbent {
      incumbent.refinement = plan.refinement
      return incumbent
    }
    return plan
  }

  /// The order in which tied candidates are preferred: a backend's default
  /// configuration before its other configurations, then the registry's order
  /// of backends, then each backend's own order of configurations.
  public static func preference(backend: String, config: String, offered: [String]) -> (Int, Int, Int) {
    let registry = BackendRegistry.named(backend).map(BackendRegistry.index(of:)) ?? Int.max
    let position = offered.firstIndex(of: config) ?? Int.max
    return (position == 0 ? 0 : 1, registry, position)
  }

  /// Measures every candidate for one shape; statuses other than rejected,
  /// unsupported and skipped are provisional (see `decide`).
  func measure(_ problem: ConvProblem, deadline: Double, seed: UInt64) -> [Plan.Candidate] {
    let trial = LayerTrial(problem: problem, seed: options.seed, pool: pool)
    trial.coldWeights = options.coldWeights
    var candidates: [Plan.Candidate] = []
    var timed: [(index: Int, candidate: LayerTrial.Candidate)] = []
    // Backends that stand in for others first, so a tight budget still measures a sensible choice.
    let ordered = options.backends.sorted { ($0.fallbackRank ?? Int.max, BackendRegistry.index(of: $0)) < ($1.fallbackRank ?? Int.max, BackendRegistry.index(of: $1)) }
    for backend in ordered {
      if case .no(let why) = backend.canRun(problem) {
        candidates.append(.init(backend: backend.name, config: "-", status: .unsupported, reason: why))
        continue
      }
      for config in backend.configurations(for: problem, machine: options.machine) {
        let name = config.description
        if Stopwatch.now() > deadline && !timed.isEmpty {
          candidates.append(.init(backend: backend.name, config: name, status: .skipped, reason: "budget exhausted"))
          continue
        }
        let tolerance = options.maxError ?? backend.tolerance(for: problem, config: config)
        let prepared: PreparedConvolution
        do { prepared = try backend.prepare(problem, weights: trial.weights, config: config, machine: options.machine) } catch {
          candidates.append(.init(backend: backend.name, config: name, status: .rejected, tolerance: tolerance, reason: "prepare failed: \(error)"))
          continue
        }
        let check: LayerTrial.Check
        do { check = try trial.check(prepared, tolerance: tolerance) } catch {
          candidates.append(.init(backend: backend.name, config: name, status: .rejected, tolerance: tolerance, reason: "check failed: \(error)"))
          continue
        }
        guard check.passed else {
          candidates.append(.init(backend: backend.name, config: name, status: .rejected, maxError: check.error,
                                  tolerance: tolerance, reason: check.summary))
          continue
        }
        candidates.append(.init(backend: backend.name, config: name, status: .accepted, maxError: check.error, tolerance: tolerance))
        timed.append((candidates.count - 1, trial.candidate(prepared)))
      }
    }
    guard !timed.isEmpty else { return candidates }

    // Screening: two interleaved rounds; the better of each candidate's two decides the drop.
    let screening = trial.time(timed.map(\.candidate), policy: SamplingPolicy(warmup: 1, repetitions: Self.screeningRounds, seed: seed))
    let firsts = screening.samples.map { $0.min() ?? .infinity }
    let best = firsts.min() ?? .infinity
    var survivors: [Int] = []
    for (i, t) in timed.enumerated() {
      if firsts[i] > options.dropFactor * best {
        candidates[t.index].status = .dropped
        candidates[t.index].medianMs = firsts[i] * 1e3
        candidates[t.index].gflops = Double(problem.flops) / firsts[i] / 1e9
        candidates[t.index].repetitions = screening.samples[i].count
        candidates[t.index].reason = "screening run \(String(format: "%.3f", firsts[i] * 1e3)) ms, slower than \(options.dropFactor)× the best \(String(format: "%.3f", best * 1e3)) ms"
      } else {
        survivors.append(i)
      }
    }
    // As many rounds as the shape's budget affords, at least `minimumRounds`.
    let perRound = survivors.reduce(0) { $0 + firsts[$1] }
    let affordable = perRound > 0 ? Int((deadline - Stopwatch.now()) / perRound) : options.repetitions
    let rounds = max(Self.minimumRounds, min(options.repetitions, affordable))
    let record = trial.time(survivors.map { timed[$0].candidate }, policy: SamplingPolicy(warmup: 0, repetitions: rounds, seed: seed))
    let medians = record.samples.map { TimingSummary($0).median }
    guard let fastest = medians.indices.min(by: { medians[$0] < medians[$1] }) else { return candidates }
    // "Within the noise" holds for the shape's comparisons together: with
    // several candidates compared with the fastest, 95% intervals each would
    // split a true tie by chance about once a tune (24 shapes, ~6 candidates).
    let confidence = 1 - Self.tieRisk / Double(max(1, survivors.count - 1))
    for (j, i) in survivors.enumerated() {
      let index = timed[i].index
      candidates[index].medianMs = medians[j] * 1e3
      candidates[index].gflops = Double(problem.flops) / medians[j] / 1e9
      candidates[index].repetitions = record.samples[j].count
      if j != fastest {
        let r = RatioEstimate.paired(base: record.samples[fastest], candidate: record.samples[j], confidence: confidence)
        candidates[index].ratioToFastest = r.ratio
        candidates[index].ratioConfidence = confidence
        candidates[index].ratioLow = r.isBounded ? r.low : nil
        candidates[index].ratioHigh = r.isBounded ? r.high : nil
        candidates[index].tied = Self.isTied(r)
      }
    }
    return candidates
  }

  /// Whether a candidate with ratio `r` to the fastest is tied with it: its
  /// ratio at most `tieRatioLimit`, and its interval unbounded or reaching
  /// within `tieMargin` of no difference.
  static func isTied(_ r: RatioEstimate) -> Bool {
    r.ratio <= tieRatioLimit && (!r.isBounded || r.low <= 1 + tieMargin)
  }

  /// Marks the choice `chosen`: among the accepted candidates with a time, the
  /// fastest (ratio 1) and those tied with it, the first by `preference`; with
  /// no tie information (plans of schema 1, hand-made lists), the lowest median,
  /// the earlier candidate on equal medians.
  public static func decide(_ candidates: [Plan.Candidate]) -> [Plan.Candidate] {
    var out = candidates
    let accepted = out.indices.filter { out[$0].status == .accepted && out[$0].medianMs != nil }
    guard !accepted.isEmpty else { return out }
    let fastest = accepted.min { (out[$0].medianMs ?? .infinity, $0) < (out[$1].medianMs ?? .infinity, $1) }!
    var pool = [fastest] + accepted.filter { $0 != fastest && out[$0].tied == true }
    // Each backend's configurations in the order the search offered them (its default first).
    let offered = Dictionary(grouping: out.indices, by: { out[$0].backend }).mapValues { $0.map { out[$0].config } }
    func rank(_ i: Int) -> (Int, Int, Int) { preference(backend: out[i].backend, config: out[i].config, offered: offered[out[i].backend] ?? []) }
    pool.sort { let (a, b) = (rank($0), rank($1)); return (a.0, a.1, a.2, $0) < (b.0, b.1, b.2, $1) }
    let choice = pool[0]
    out[choice].status = .chosen
    if choice != fastest {
      let f = out[fastest]
      out[choice].reason = "tied with the fastest, \(f.backend) [\(f.config)] (ratio \(String(format: "%.3f", out[choice].ratioToFastest ?? 1))"
        + (out[choice].ratioLow.map { l in ", \(percent(out[choice].ratioConfidence ?? 0.95)) interval \(String(format: "%.3f", l))–\(String(format: "%.3f", out[choice].ratioHigh ?? .infinity))" } ?? "")
        + "); preferred as " + (rank(choice).0 == 0 ? "its backend's default configuration" : "earlier in the registry")
    }
    return out
  }

  /// The per-shape search times each shape alone, with its weights and input
  /// hot in cache from the previous repetition. Inside a network they are not:
  /// a configuration that wins in isolation can lose there (Winograd's
  /// per-thread split wins when its transformed filters stay in L2 between
  /// repetitions, not when 50 other layers run in between). So the network is
  /// timed in interleaved, shuffled rounds with the per-shape choices and with
  /// each backend alone (default configurations), and a shape moves to the
  /// engine that ran its layers fastest in the network when that engine's
  /// configuration passed the accuracy check and the difference, paired round
  /// by round, is clear (the interval of the ratio lies below 1 − `tieMargin`).
  /// Only the shapes in `only` (those just measured) may change.
  ///
  /// The check runs at least `refinementRounds` rounds and goes on while the
  /// budget the per-shape search left (`budgetLeft`, seconds) lasts, up to
  /// `SamplingPolicy.extensionFactor` times as many: the search often ends
  /// early (every shape reached its rounds), and the network's evidence is
  /// what decides a tie, so the time is worth more here. (A 1-thread Keras
  /// tune with 12 rounds left its 256→1024 1×1 shape alone; with 120 the
  /// check moved it at 0.893, 99.76% interval 0.859–0.931.)
  ///
  /// Returns true when `incumbent` was given and the network ran it faster
  /// than the per-shape choices (`keepsIncumbent`); the per-shape moves are
  /// then still recorded in `plan`, but `tune` returns the incumbent.
  @discardableResult
  func refineInNetwork(_ plan: inout Plan, only: Set<ConvProblem>, incumbent: Plan? = nil, budgetLeft: Double) -> Bool {
    guard let weights = try? ResNetWeights.fold(ResNetWeights.seeded(for: model, seed: options.seed), for: model),
          let assignment = try? plan.assignment(for: model) else { return false }
    let planName = "plan (per shape)"
    var engines: [(name: String, engine: InferenceEngine)] = []
    if let e = try? InferenceEngine(model: model, weights: weights, pool: pool, assignment: assignment) {
      engines.append((planName, e))
    }
    for backend in options.backends where backend.networkRepetitionCap == nil && backend.availability.isAvailable {
      if let e = try? InferenceEngine(model: model, weights: weights, backend: backend, pool: pool) { engines.append((backend.name, e)) }
    }
    // The backends alone run their default configurations; the tuned
    // alternatives the search could not tell from the choice run here too.
    var alternatives = plan
    var anyAlternative = false
    for s in alternatives.shapes.indices {
      guard let problem = try? ConvProblem(descriptor: alternatives.shapes[s].descriptor), only.contains(problem),
            let a = Self.tiedAlternative(alternatives.shapes[s].candidates) else { continue }
      alternatives.shapes[s].backend = alternatives.shapes[s].candidates[a].backend
      alternatives.shapes[s].config = alternatives.shapes[s].candidates[a].config
      anyAlternative = true
    }
    if anyAlternative, let a = try? alternatives.assignment(for: model),
       let e = try? InferenceEngine(model: model, weights: weights, pool: pool, assignment: a) {
      engines.append((Self.alternativesName, e))
    }
    var incumbentIndex: Int?
    if let incumbent, let a = try? incumbent.assignment(for: model),
       let e = try? InferenceEngine(model: model, weights: weights, pool: pool, assignment: a) {
      incumbentIndex = engines.count
      engines.append((Self.incumbentName, e))
    }
    guard engines.count > 1 else { return false }
    let image = NetworkInputs.seededImage(count: engines[0].engine.input.count, seed: options.seed)
    let layerCount = model.layers.count
    var layerSamples = Array(repeating: Array(repeating: [Double](), count: layerCount), count: engines.count)
    var seconds = [Double](repeating: 0, count: layerCount)
    for e in engines { e.engine.setInput(image) }
    // One untimed run of each engine warms it up and prices a round; every
    // engine runs in every round, so the rounds stay paired.
    let perRound = engines.reduce(0.0) { total, e in total + Stopwatch.time { e.engine.run() } }
    let affordable = perRound > 0 ? Int(budgetLeft / perRound) : 0
    let rounds = min(options.refinementRounds * SamplingPolicy.extensionFactor, max(options.refinementRounds, affordable))
    let record = seconds.withUnsafeMutableBufferPointer { buffer in
      Sampler.sample(
        count: engines.count, policy: SamplingPolicy(warmup: 0, repetitions: rounds, seed: options.seed),
        run: { engines[$0].engine.run(layerSeconds: buffer.baseAddress) },
        record: { i in for l in 0..<layerCount { layerSamples[i][l].append(buffer[l]) } })
    }
    let timedRounds = record.samples[0].count
    var changed = 0
    for s in plan.shapes.indices {
      guard let problem = try? ConvProblem(descriptor: plan.shapes[s].descriptor), only.contains(problem) else { continue }
      let layers = model.layers.indices.filter { model.layers[$0].problem == problem }
      guard let first = layers.first else { continue }
      let cost = engines.indices.map { e in (0..<timedRounds).map { r in layers.reduce(0) { $0 + layerSamples[e][$1][r] } } }
      let medians = cost.map { TimingSummary.median($0) }
      let best = medians.indices.min { medians[$0] < medians[$1] }!
      guard best != 0 else { continue }
      let binding = engines[best].engine.bindings[first]
      // An engine built with `.default` runs the backend's default, which is
      // the first of its configurations; name it as the search did.
      let config = (binding.config == .default
        ? binding.backend.configurations(for: problem, machine: options.machine).first ?? .default : binding.config).description
      let backend = binding.backend.name
      guard backend != plan.shapes[s].backend || config != plan.shapes[s].config,
            let target = plan.shapes[s].candidates.firstIndex(where: { c in
              c.backend == backend && c.config == config && (c.status == .accepted || c.status == .dropped)
                && (c.maxError ?? .infinity) <= (c.tolerance ?? 0)
            })
      else { continue }
      let tiedAlone = Self.isTiedAlone(plan.shapes[s].candidates[target])
      let (moves, r, confidence) = Self.inNetworkMove(base: cost[0], candidate: cost[best], tiedAlone: tiedAlone, shapes: only.count)
      guard moves else { continue }
      changed += 1
      let perUse = { (e: Int) in String(format: "%.3f", medians[e] * 1e3 / Double(layers.count)) }
      for c in plan.shapes[s].candidates.indices where plan.shapes[s].candidates[c].status == .chosen {
        plan.shapes[s].candidates[c].status = .accepted
        plan.shapes[s].candidates[c].reason = "chosen alone, but \(perUse(0)) ms per layer inside the network against \(perUse(best)) ms for \(backend) [\(config)]"
      }
      plan.shapes[s].candidates[target].status = .chosen
      plan.shapes[s].candidates[target].reason = "chosen by the in-network check: \(perUse(best)) ms per layer inside the network, "
        + "ratio \(String(format: "%.3f", r.ratio)) (\(percent(confidence)) interval \(String(format: "%.3f", r.low))–\(String(format: "%.3f", r.high))) to the per-shape choice"
        + (tiedAlone ? ", with which it was tied alone" : "")
      plan.shapes[s].backend = backend
      plan.shapes[s].config = config
    }
    let networkMs = Dictionary(uniqueKeysWithValues: engines.indices.map { (engines[$0].name, TimingSummary(record.samples[$0]).median * 1e3) })
    plan.refinement = Plan.Refinement(networkMs: networkMs, changedShapes: changed, rounds: timedRounds)
    progress("in-network check (\(timedRounds) rounds): " + engines.indices.map { "\(engines[$0].name) \(String(format: "%.2f", networkMs[engines[$0].name] ?? 0)) ms" }.joined(separator: ", ")
             + "; \(changed) shape(s) changed")
    guard let incumbentIndex else { return false }
    let (keep, r) = Self.keepsIncumbent(incumbent: record.samples[incumbentIndex], new: record.samples[0])
    progress("the new choices ÷ the incumbent plan, round by round: \(String(format: "%.3f", r.ratio)) "
             + "(95% interval \(String(format: "%.3f", r.low))–\(String(format: "%.3f", r.high))); "
             + (keep ? "the incumbent is faster and is kept" : "the new plan is written"))
    return keep
  }

  /// The in-network check's engine of the incumbent plan (`tune --against`).
  public static let incumbentName = "incumbent plan"

  /// Whether the incumbent plan stays: when the new per-shape choices' whole
  /// network time (`new`, paired round by round with `incumbent`) is slower
  /// with the 95% interval of the ratio above 1. A tie writes the new plan, so
  /// a re-tune on a quiet machine is not held back by a plan from a noisy one;
  /// a plan measured slower in the same rounds never replaces a faster one.
  /// (A 2-thread Keras re-tune on a busy host measured 1.017 (0.999–1.034)
  /// against the plan before, side by side, and 0.728 against 0.700 ÷ TFLite.)
  public static func keepsIncumbent(incumbent: [Double], new: [Double]) -> (keep: Bool, estimate: RatioEstimate) {
    let r = RatioEstimate.paired(base: incumbent, candidate: new, confidence: 1 - tieRisk)
    return (r.isBounded && r.low > 1, r)
  }

  /// The in-network check's engine of tied alternatives (a name in `refinement.networkMs`).
  public static let alternativesName = "tied alternatives"

  /// The candidate the in-network check runs beside a shape's choice: of the
  /// accepted, accurate candidates the search found tied with the fastest (or
  /// the fastest itself) other than the chosen one, the one with the lowest
  /// median alone; nil when there is none. Its layers run in one more engine
  /// (`alternativesName`), so a tie the search broke by preference can be
  /// decided by the network instead (the backends alone run only their
  /// default configurations).
  static func tiedAlternative(_ candidates: [Plan.Candidate]) -> Int? {
    candidates.indices.filter { i in isTiedAlone(candidates[i]) && (candidates[i].maxError ?? .infinity) <= (candidates[i].tolerance ?? 0) }
      .min { (candidates[$0].medianMs ?? .infinity, $0) < (candidates[$1].medianMs ?? .infinity, $1) }
  }

  /// An accepted (not chosen) candidate the per-shape search timed and could
  /// not tell from the fastest: tied with it, or the fastest itself.
  static func isTiedAlone(_ c: Plan.Candidate) -> Bool {
    c.status == .accepted && c.medianMs != nil && (c.tied == true || c.ratioToFastest == nil)
  }

  /// Whether the in-network check moves a shape from the per-shape choice to
  /// another engine's configuration, from its layers' time in each round
  /// (`base`: the per-shape choice, `candidate`: the other, paired round by
  /// round): when the interval of the ratio lies below 1 − `tieMargin`.
  ///
  /// The confidence depends on what the per-shape search said of the
  /// candidate. One it found slower needs the interval to hold for all
  /// `shapes` shapes that may move together (Bonferroni), so that a re-tune
  /// does not move a shape or two by chance (at 95% each, 24 shapes moved
  /// about one a tune). One it found tied with the fastest (`tiedAlone`)
  /// needs only the shape's own 95%: timed alone the two could not be told
  /// apart and the choice between them was a preference, so a move by chance
  /// costs nothing the search could measure, while the network is the
  /// evidence that decides. (Keras ResNet-50's 7×7 × 512 3×3 layer on one
  /// thread: tied alone, tiled-simd 3.82 against Winograd 3.85 ms; inside the
  /// network 3.8–4.1 against 3.2–3.4 ms, and the tune's check, at the
  /// all-shapes confidence, left it on tiled-simd.)
  static func inNetworkMove(base: [Double], candidate: [Double], tiedAlone: Bool, shapes: Int)
    -> (moves: Bool, estimate: RatioEstimate, confidence: Double) {
    let confidence = tiedAlone ? 1 - tieRisk : 1 - tieRisk / Double(max(1, shapes))
    let r = RatioEstimate.paired(base: base, candidate: candidate, confidence: confidence)
    return (r.isBounded && r.high < 1 - tieMargin, r, confidence)
  }
}

/// A confidence as a percentage with the digits that matter (95%, 98.75%).
private func percent(_ confidence: Double) -> String {
  var text = String(format: "%.2f", confidence * 100)
  while text.hasSuffix("0") { text.removeLast() }
  if text.hasSuffix(".") { text.removeLast() }
  return text + "%"
}
