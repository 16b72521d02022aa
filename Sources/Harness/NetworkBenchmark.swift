import ConvBackends
import ConvCore
import ResNet

/// One thing whose end-to-end inference is timed: a single backend, or a plan.
public struct BenchmarkCandidate {
  /// `naive`, `im2col-openblas`, …, or `plan`.
  public var name: String
  public var engine: InferenceEngine
  /// Logit tolerance against the Float64-reference network.
  public var tolerance: Double
  /// Per-layer tolerance used to locate where a disagreeing candidate diverges.
  public var layerTolerance: (Int) -> Double
  /// Repetitions are capped for slow candidates (the naive backend).
  public var maxRepetitions: Int?

  public init(name: String, engine: InferenceEngine, tolerance: Double, layerTolerance: @escaping (Int) -> Double, maxRepetitions: Int? = nil) {
    self.name = name
    self.engine = engine
    self.tolerance = tolerance
    self.layerTolerance = layerTolerance
    self.maxRepetitions = maxRepetitions
  }

  /// A candidate running every layer on `backend` (falling back where it cannot).
  public static func backend(_ backend: any ConvolutionBackend, model: ResNetModel, weights: [ConvWeights], pool: ThreadPool) throws -> BenchmarkCandidate {
    let engine = try InferenceEngine(model: model, weights: weights, backend: backend, pool: pool)
    return make(name: backend.name, engine: engine, maxRepetitions: backend.name == "naive" ? naiveRepetitions : nil)
  }

  /// A candidate running each layer on the backend and configuration `assignment` names.
  public static func plan(
    _ assignment: [String: (any ConvolutionBackend, BackendConfig)], model: ResNetModel, weights: [ConvWeights], pool: ThreadPool
  ) throws -> BenchmarkCandidate {
    let engine = try InferenceEngine(model: model, weights: weights, pool: pool) { layer in assignment[layer.name]! }
    return make(name: "plan", engine: engine, maxRepetitions: nil)
  }

  /// The naive backend takes seconds per ResNet-50 inference: it is timed this many times at most.
  public static let naiveRepetitions = 3

  private static func make(name: String, engine: InferenceEngine, maxRepetitions: Int?) -> BenchmarkCandidate {
    let model = engine.model
    return BenchmarkCandidate(
      name: name, engine: engine,
      tolerance: engine.bindings.contains { $0.backend.name == "winograd" } ? Tolerance.networkWinograd : Tolerance.networkDirect,
      layerTolerance: { i in engine.bindings[i].backend.tolerance(for: model.layers[i].problem, config: engine.bindings[i].config) },
      maxRepetitions: maxRepetitions)
  }
}

/// How many times to run, and for how long.
public struct RepetitionPolicy: Sendable {
  public var warmup: Int
  public var repetitions: Int
  /// Keep adding rounds until each candidate has run for at least this long (seconds), up to `repetitions`·10.
  public var minSeconds: Double

  public init(warmup: Int = 1, repetitions: Int = 10, minSeconds: Double = 0) {
    self.warmup = warmup
    self.repetitions = repetitions
    self.minSeconds = minSeconds
  }
}

/// Timings of one candidate.
public struct CandidateTiming {
  public var name: String
  /// End-to-end seconds of each timed inference.
  public var samples: [Double]
  /// Per layer (index in `model.layers`): seconds of each timed inference.
  public var layerSamples: [[Double]]
  public var logits: [Float]
  public var probabilities: [Float]
  public var summary: TimingSummary { TimingSummary(samples) }
}

/// Times candidates round by round (A B C A B C …) after a warm-up, so slow
/// drift of the machine (frequency, a neighbour's load) hits all alike.
public enum NetworkBenchmark {
  public static func measure(
    _ candidates: [BenchmarkCandidate], input: [Float], policy: RepetitionPolicy,
    progress: ((String) -> Void)? = nil
  ) -> [CandidateTiming] {
    guard let first = candidates.first else { return [] }
    let layerCount = first.engine.model.layers.count
    for c in candidates { c.engine.setInput(input) }
    for c in candidates {
      for _ in 0..<policy.warmup { c.engine.run() }
    }
    var samples = Array(repeating: [Double](), count: candidates.count)
    var layerSamples = Array(repeating: Array(repeating: [Double](), count: layerCount), count: candidates.count)
    var layerSeconds = [Double](repeating: 0, count: layerCount)
    var spent = [Double](repeating: 0, count: candidates.count)
    let cap = policy.repetitions * (policy.minSeconds > 0 ? 10 : 1)
    var round = 0
    while true {
      var anyRan = false
      for (i, c) in candidates.enumerated() {
        let limit = min(cap, c.maxRepetitions ?? cap)
        let wantsMore = samples[i].count < min(policy.repetitions, limit) || (spent[i] < policy.minSeconds && samples[i].count < limit)
        guard wantsMore else { continue }
        anyRan = true
        let seconds = layerSeconds.withUnsafeMutableBufferPointer { buf in
          Stopwatch.time { c.engine.run(layerSeconds: buf.baseAddress) }
        }
        samples[i].append(seconds)
        spent[i] += seconds
        for l in 0..<layerCount { layerSamples[i][l].append(layerSeconds[l]) }
      }
      if !anyRan { break }
      round += 1
      progress?("round \(round): " + candidates.indices.map { "\(candidates[$0].name) \(samples[$0].count)" }.joined(separator: ", "))
    }
    return candidates.indices.map { i in
      CandidateTiming(name: candidates[i].name, samples: samples[i], layerSamples: layerSamples[i],
                      logits: candidates[i].engine.logits, probabilities: candidates[i].engine.probabilities)
    }
  }
}
