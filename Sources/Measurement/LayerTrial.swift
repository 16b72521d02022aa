import ConvCore

/// One convolution shape, measured the one way the project measures a layer:
/// seeded weights, input and residual; each candidate prepared, run into an
/// output filled with NaN just before, compared with the Float64 reference
/// with the epilogue both fully on (residual and ReLU) and fully off; then the
/// accepted candidates timed in interleaved rounds. The tuner, `conv`, the
/// tests and the benchmarks all go through it.
///
/// Filling the output with NaN is what makes the check impossible to fool: a
/// candidate that writes nothing, or leaves any element unwritten, reads back
/// NaN there, and NaN is an infinite error — it cannot inherit the correct
/// values another candidate left in a shared buffer. Checking both epilogues
/// catches a backend that ignores the residual, always applies ReLU, or never does.
public final class LayerTrial: @unchecked Sendable {
  public let problem: ConvProblem
  public let weights: ConvWeights
  public let pool: ThreadPool
  /// NHWC input and residual, seeded.
  public let input: AlignedBuffer
  public let residual: AlignedBuffer
  /// Time every run with the candidate's packed weights evicted from the
  /// caches first (`CacheEviction`), as they arrive inside a whole network;
  /// off, a run finds them where the previous run left them.
  public var coldWeights = false
  private var references: [Epilogue: [Float]] = [:]

  /// The two epilogues every check runs.
  public enum Epilogue: String, CaseIterable, Sendable {
    /// Residual added, then ReLU: what the last convolution of a residual block does.
    case residualAndReLU = "residual+relu"
    /// Neither: the bare convolution plus bias.
    case none = "bias only"
    var residual: Bool { self == .residualAndReLU }
    var relu: Bool { self == .residualAndReLU }
  }

  /// - Parameters:
  ///   - seed: seeds the weights (unless given) and, from a separate stream, input and residual.
  ///   - weights: the layer's own weights (OIHW), e.g. a network's.
  public init(problem: ConvProblem, seed: UInt64, pool: ThreadPool, weights: ConvWeights? = nil) {
    self.problem = problem
    self.pool = pool
    self.weights = weights ?? ConvWeights.random(for: problem, seed: seed)
    var rng = SeededGenerator(seed: ~seed)
    input = AlignedBuffer(rng.normals(problem.inputCount))
    residual = AlignedBuffer(rng.normals(problem.outputCount))
  }

  /// The Float64 reference output for `epilogue`, computed once.
  public func reference(_ epilogue: Epilogue) throws -> [Float] {
    if let r = references[epilogue] { return r }
    let prepared = try ReferenceBackend().prepare(problem, weights: weights, config: .default)
    let out = AlignedBuffer(count: problem.outputCount)
    prepared.run(input: input.pointer, output: out.pointer, residual: epilogue.residual ? UnsafePointer(residual.pointer) : nil,
                 relu: epilogue.relu, workspace: Workspace(byteCount: 0).pointer, pool: pool)
    references[epilogue] = out.array
    return out.array
  }

  /// The outcome of checking one candidate.
  public struct Check: Sendable, Equatable {
    /// The larger of the two epilogues' errors (see `ErrorMetric`); +∞ when any output was not finite.
    public var error: Double
    public var tolerance: Double
    /// The first epilogue whose error exceeded the tolerance.
    public var failedEpilogue: Epilogue?
    public var passed: Bool { failedEpilogue == nil }

    /// "error 3.1e-05 within 5.2e-04" or why it failed.
    public var summary: String {
      let e = error.isFinite ? String(format: "%.2e", error) : "non-finite output (an element left unwritten or NaN)"
      if let f = failedEpilogue { return "error \(e) with \(f.rawValue) exceeds the tolerance \(String(format: "%.2e", tolerance))" }
      return "error \(e) within \(String(format: "%.2e", tolerance))"
    }
  }

  /// Runs `prepared` once per epilogue into a NaN-filled output and compares
  /// it with the reference.
  public func check(_ prepared: PreparedConvolution, tolerance: Double) throws -> Check {
    let output = AlignedBuffer(count: problem.outputCount)
    let workspace = Workspace(byteCount: prepared.workspaceBytes)
    var worst = 0.0
    var failed: Epilogue?
    for epilogue in Epilogue.allCases {
      output.fill(.nan)
      prepared.run(input: input.pointer, output: output.pointer,
                   residual: epilogue.residual ? UnsafePointer(residual.pointer) : nil, relu: epilogue.relu,
                   workspace: workspace.pointer, pool: pool)
      let error = try reference(epilogue).withUnsafeBufferPointer { ErrorMetric.maxError(UnsafeBufferPointer(output.buffer), reference: $0) }
      worst = max(worst, error)
      if failed == nil && !(error <= tolerance) { failed = epilogue }
    }
    return Check(error: worst, tolerance: tolerance, failedEpilogue: failed)
  }

  /// A prepared convolution ready to be timed on this trial's data: its own
  /// workspace and output, the epilogue fixed.
  public final class Candidate: @unchecked Sendable {
    public let prepared: PreparedConvolution
    let workspace: Workspace
    let output: AlignedBuffer
    let input: UnsafePointer<Float>
    let residual: UnsafePointer<Float>?
    let relu: Bool
    let pool: ThreadPool
    /// What `evict` flushes: the packed weights when the trial times cold weights.
    let coldBuffers: [AlignedBuffer]

    init(_ prepared: PreparedConvolution, trial: LayerTrial, residual: Bool, relu: Bool) {
      self.prepared = prepared
      workspace = Workspace(byteCount: prepared.workspaceBytes)
      output = AlignedBuffer(count: trial.problem.outputCount)
      input = UnsafePointer(trial.input.pointer)
      self.residual = residual ? UnsafePointer(trial.residual.pointer) : nil
      self.relu = relu
      pool = trial.pool
      coldBuffers = trial.coldWeights ? prepared.packedWeightBuffers : []
    }

    /// Before a timed run: evicts the weights when the trial times them cold.
    public func evict() {
      if !coldBuffers.isEmpty { CacheEviction.evict(coldBuffers) }
    }

    /// One run (what gets timed).
    @inline(__always)
    public func run() {
      prepared.run(input: input, output: output.pointer, residual: residual, relu: relu, workspace: workspace.pointer, pool: pool)
    }
  }

  /// `prepared` as a timing candidate; the epilogue defaults to ReLU without
  /// residual, what most layers of a ResNet apply.
  public func candidate(_ prepared: PreparedConvolution, residual: Bool = false, relu: Bool = true) -> Candidate {
    Candidate(prepared, trial: self, residual: residual, relu: relu)
  }

  /// Times `candidates` in interleaved, shuffled rounds.
  public func time(_ candidates: [Candidate], policy: SamplingPolicy) -> SamplingRecord {
    Sampler.sample(count: candidates.count, policy: policy, prepare: { candidates[$0].evict() }, run: { candidates[$0].run() })
  }
}
