import ConvBackends
import ConvCore

/// Deliberately broken backends: each computes most of the right answer and
/// fails in one way a real backend could. The checks that guard the real
/// backends (`LayerTrial.check`, used by `tune`, `conv --check` and the tests)
/// must reject every one of them.
public enum BrokenBackend: String, CaseIterable, Sendable {
  /// Runs, writes nothing: the output keeps whatever was in the buffer.
  case writesNothing = "broken-writes-nothing"
  /// Writes every output row but the last one.
  case skipsLastRow = "broken-skips-last-row"
  /// Computes the convolution and ReLU but never adds the residual.
  case ignoresResidual = "broken-ignores-residual"

  public var backend: any ConvolutionBackend { Broken(kind: self) }
}

private struct Broken: ConvolutionBackend {
  let kind: BrokenBackend
  var name: String { kind.rawValue }
  var availability: Availability { .available }
  func supports(_ problem: ConvProblem) -> Support { .yes }
  func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws -> PreparedConvolution {
    PreparedBroken(kind: kind, inner: try NaiveDirectBackend().prepare(problem, weights: weights, config: config))
  }
}

private final class PreparedBroken: PreparedConvolution, @unchecked Sendable {
  let kind: BrokenBackend
  let inner: PreparedConvolution
  init(kind: BrokenBackend, inner: PreparedConvolution) {
    self.kind = kind
    self.inner = inner
  }
  var problem: ConvProblem { inner.problem }
  var config: BackendConfig { inner.config }
  /// Room for a whole output, where `skipsLastRow` computes before copying.
  var workspaceBytes: Int { problem.outputCount * MemoryLayout<Float>.stride }

  func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
           workspace: UnsafeMutableRawPointer, pool: ThreadPool) {
    switch kind {
    case .writesNothing:
      return
    case .ignoresResidual:
      inner.run(input: input, output: output, residual: nil, relu: relu, workspace: workspace, pool: pool)
    case .skipsLastRow:
      let scratch = workspace.bindMemory(to: Float.self, capacity: problem.outputCount)
      inner.run(input: input, output: scratch, residual: residual, relu: relu, workspace: workspace, pool: pool)
      let row = problem.outWidth * problem.outChannels
      output.update(from: scratch, count: problem.outputCount - row)
    }
  }
}

/// What a test does when something it needs is missing.
public enum TestEnvironment {
  /// True under `CI=true`: a missing library or binary is then a failure, not a skip.
  public static var isCI: Bool {
    (getenv("CI").map { String(cString: $0) }) == "true"
  }

  /// Thrown instead of a skip under CI.
  public struct MissingRequirement: Error, CustomStringConvertible {
    public let description: String
    public init(_ what: String) { description = "missing under CI=true: \(what)" }
  }
}

#if canImport(Glibc)
import Glibc
#endif
