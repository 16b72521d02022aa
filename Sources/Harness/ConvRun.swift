import ConvBackends
import ConvCore
import Foundation
import Measurement

/// Everything `conv` needs for one problem.
public struct ConvRunRequest {
  public var problem: ConvProblem
  public var backends: [any ConvolutionBackend]
  /// One configuration for every backend (nil: each backend's default).
  public var config: BackendConfig?
  /// The epilogue of the timed runs (the check always runs both epilogues).
  public var residual: Bool
  public var relu: Bool
  public var check: Bool
  public var policy: SamplingPolicy
  public var seed: UInt64
  public var pool: ThreadPool
  /// Evict each candidate's packed weights before every timed run (the bare
  /// sgemm's too: it reads the same weights), as in a whole network.
  public var coldWeights = false

  public init(problem: ConvProblem, backends: [any ConvolutionBackend], config: BackendConfig?, residual: Bool, relu: Bool,
              check: Bool, policy: SamplingPolicy, seed: UInt64, pool: ThreadPool) {
    self.problem = problem
    self.backends = backends
    self.config = config
    self.residual = residual
    self.relu = relu
    self.check = check
    self.policy = policy
    self.seed = seed
    self.pool = pool
  }
}

/// What `conv` measured on one problem.
public struct ConvRunResult {
  public struct Row {
    public var backend: String
    /// The configuration that ran (resolved from the default), or nil when unsupported.
    public var config: String?
    /// Why the backend cannot compute this problem.
    public var unsupported: String?
    public var samples: [Double]
    public var cpuSamples: [Double]
    public var check: LayerTrial.Check?
    /// The same library's bare sgemm on the identical M×N×K (per group), timed in the same rounds.
    public var bareGemm: (shape: (m: Int, n: Int, k: Int, groups: Int), samples: [Double])?
    /// Phase breakdown of the last run (Winograd), seconds.
    public var phases: [(name: String, seconds: Double)]
    public var summary: TimingSummary? { samples.isEmpty ? nil : TimingSummary(samples) }
  }

  public var problem: ConvProblem
  public var rows: [Row]
  public var record: SamplingRecord?
  public var load: MachineLoad

  public var failed: Bool { rows.contains { $0.check.map { !$0.passed } ?? false } }
}

/// The work behind `resnet-bench conv`: every backend on one `LayerTrial`,
/// checked, then timed in the same interleaved rounds (the im2col backends'
/// bare library GEMMs as further candidates of those rounds).
public enum ConvRun {
  public static func execute(_ request: ConvRunRequest) throws -> ConvRunResult {
    let p = request.problem
    try MemoryBudget.check(p, reference: request.check)
    let trial = LayerTrial(problem: p, seed: request.seed, pool: request.pool)
    trial.coldWeights = request.coldWeights
    var rows: [ConvRunResult.Row] = []
    var candidates: [() -> Void] = []
    var evictions: [() -> Void] = []
    var timedRow: [(row: Int, bare: Bool)] = []
    var prepareds: [(row: Int, prepared: PreparedConvolution)] = []
    for b in request.backends {
      if case .no(let why) = b.canRun(p) {
        rows.append(.init(backend: b.name, config: nil, unsupported: why, samples: [], cpuSamples: [], check: nil, bareGemm: nil, phases: []))
        continue
      }
      let prepared = try b.prepare(p, weights: trial.weights, config: request.config ?? .default)
      let check = request.check ? try trial.check(prepared, tolerance: b.tolerance(for: p, config: prepared.config)) : nil
      rows.append(.init(backend: b.name, config: prepared.config.description, unsupported: nil, samples: [], cpuSamples: [],
                        check: check, bareGemm: nil, phases: []))
      prepareds.append((rows.count - 1, prepared))
      let candidate = trial.candidate(prepared, residual: request.residual, relu: request.relu)
      candidates.append { candidate.run() }
      evictions.append { candidate.evict() }
      timedRow.append((rows.count - 1, false))
      if let lowered = prepared as? GemmLowered {
        candidates.append(lowered.makeBareGemm())
        evictions.append { candidate.evict() }
        timedRow.append((rows.count - 1, true))
        rows[rows.count - 1].bareGemm = (lowered.gemmShape, [])
      }
    }
    guard !candidates.isEmpty else {
      return ConvRunResult(problem: p, rows: rows, record: nil, load: MachineLoad.between(.now(), .now(), cores: 1))
    }
    let record = Sampler.sample(count: candidates.count, policy: request.policy, prepare: { evictions[$0]() }, run: { candidates[$0]() })
    for (i, t) in timedRow.enumerated() {
      if t.bare {
        rows[t.row].bareGemm?.samples = record.samples[i]
      } else {
        rows[t.row].samples = record.samples[i]
        rows[t.row].cpuSamples = record.cpuSamples[i]
      }
    }
    // The phases describe each backend's last timed run.
    for (row, prepared) in prepareds { rows[row].phases = prepared.lastPhaseTimes?.phases ?? [] }
    return ConvRunResult(problem: p, rows: rows, record: record, load: record.load)
  }
}
