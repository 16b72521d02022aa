/// The oracle every backend is checked against: a direct convolution that
/// multiplies in Float32 (exact in Float64) and accumulates in Float64, then
/// applies the epilogue in Float64 and rounds once.
///
/// It is a `ConvolutionBackend` so the inference engine can run a whole
/// reference network with it, but it is not in the registry: it is never timed.
public struct ReferenceBackend: ConvolutionBackend {
  public init() {}
  public var name: String { "reference" }
  public var summary: String { "direct convolution accumulating in Float64 (the oracle; not timed)" }
  public var availability: Availability { .available }
  public func supports(_ problem: ConvProblem) -> Support { .yes }
  public func tolerance(for problem: ConvProblem, config: BackendConfig) -> Double { 0 }

  public func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    guard config == .default else { throw BackendError("reference has no configuration '\(config)'") }
    return PreparedReference(problem: problem, weights: weights)
  }
}

/// The definition of the general convolution (benchdnn's, groups, dilation
/// and padding on each side), written out directly: output pixel (y, x) of
/// channel o in group g = o / (oc/g) reads input rows y·sh − ph + kh·(dh + 1)
/// and columns x·sw − pw + kw·(dw + 1), channels g·(ic/g) ..< (g+1)·(ic/g);
/// taps outside the image read zero.
final class PreparedReference: PreparedConvolution, @unchecked Sendable {
  let problem: ConvProblem
  let config = BackendConfig.default
  let workspaceBytes = 0
  private let weights: [Double]  // OHWI within each group
  private let bias: [Double]

  init(problem: ConvProblem, weights: ConvWeights) {
    self.problem = problem
    self.weights = weights.ohwi(for: problem).map(Double.init)
    self.bias = weights.bias.map(Double.init)
  }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    let p = problem
    let (oh, ow) = (p.outHeight, p.outWidth)
    let (groupIn, groupOut) = (p.groupInChannels, p.groupOutChannels)
    weights.withUnsafeBufferPointer { w in
      pool.parallelFor(p.batch * oh) { row in
        let n = row / oh, y = row % oh
        for x in 0..<ow {
          let outBase = ((n * oh + y) * ow + x) * p.outChannels
          for o in 0..<p.outChannels {
            let firstChannel = (o / groupOut) * groupIn
            var acc = bias[o]
            for kh in 0..<p.kernelHeight {
              let iy = y * p.strideHeight - p.padTop + kh * (p.dilationHeight + 1)
              if iy < 0 || iy >= p.inHeight { continue }
              for kw in 0..<p.kernelWidth {
                let ix = x * p.strideWidth - p.padLeft + kw * (p.dilationWidth + 1)
                if ix < 0 || ix >= p.inWidth { continue }
                let inBase = ((n * p.inHeight + iy) * p.inWidth + ix) * p.inChannels + firstChannel
                let wBase = ((o * p.kernelHeight + kh) * p.kernelWidth + kw) * groupIn
                for c in 0..<groupIn { acc += Double(input[inBase + c]) * w[wBase + c] }
              }
            }
            if let residual { acc += Double(residual[outBase + o]) }
            if relu { acc = max(acc, 0) }
            output[outBase + o] = Float(acc)
          }
        }
      }
    }
  }
}

extension PreparedConvolution {
  /// Runs once on arrays, allocating its own workspace: for tests and checks, not for timing.
  public func runOnce(
    _ input: [Float], residual: [Float]? = nil, relu: Bool = false, pool: ThreadPool = .shared(threads: 1)
  ) -> [Float] {
    precondition(input.count == problem.inputCount, "input has \(input.count) values, expected \(problem.inputCount)")
    let out = AlignedBuffer(count: problem.outputCount)
    let inBuf = AlignedBuffer(input)
    let resBuf = residual.map(AlignedBuffer.init)
    let ws = Workspace(byteCount: workspaceBytes)
    run(input: inBuf.pointer, output: out.pointer, residual: resBuf.map { UnsafePointer($0.pointer) },
        relu: relu, workspace: ws.pointer, pool: pool)
    return out.array
  }
}
