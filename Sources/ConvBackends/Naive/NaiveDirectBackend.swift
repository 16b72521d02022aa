import ConvCore

/// Direct convolution in plain Float loops: the baseline every other backend is
/// measured against, and the one whose code a reader can check by eye. It
/// computes every shape benchdnn defines in 2-D: groups, dilation, padding on
/// each side.
///
/// Output rows (image, output y) are spread over the thread pool; within a row
/// each output element is one dot product over (kh, kw, c) with weights in
/// OHWI order so the innermost loop reads both operands contiguously.
public struct NaiveDirectBackend: ConvolutionBackend {
  public init() {}
  public var name: String { "naive" }
  public var summary: String { "direct convolution, plain Float loops, rows split over threads" }
  public var availability: Availability { .available }
  public func supports(_ problem: ConvProblem) -> Support { .yes }
  /// The last resort for a layer another backend cannot compute: always correct, slowest.
  public var fallbackRank: Int? { 3 }
  /// A ResNet-50 inference takes about a second and a half: three timings say enough.
  public var networkRepetitionCap: Int? { 3 }

  public func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    guard config == .default else { throw BackendError("naive has no configuration '\(config)'; it has only 'default'") }
    return PreparedNaive(problem: problem, weights: weights)
  }
}

final class PreparedNaive: PreparedConvolution, @unchecked Sendable {
  let problem: ConvProblem
  let config = BackendConfig.default
  let workspaceBytes = 0
  private let weights: AlignedBuffer  // OHWI within each group
  private let bias: AlignedBuffer

  init(problem: ConvProblem, weights: ConvWeights) {
    self.problem = problem
    self.weights = AlignedBuffer(weights.ohwi(for: problem))
    self.bias = AlignedBuffer(weights.bias)
  }

  var packedWeightBuffers: [AlignedBuffer] { [weights, bias] }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    pool.parallelFor(problem.batch * problem.outHeight, NaiveRows(
      p: problem, input: input, output: output, residual: residual, relu: relu,
      weights: UnsafePointer(weights.pointer), bias: UnsafePointer(bias.pointer)))
  }
}

/// One output row (image, y) per task.
private struct NaiveRows: ParallelTask {
  let p: ConvProblem
  let input: UnsafePointer<Float>
  let output: UnsafeMutablePointer<Float>
  let residual: UnsafePointer<Float>?
  let relu: Bool
  let weights: UnsafePointer<Float>
  let bias: UnsafePointer<Float>

  func run(_ row: Int) {
    let (oh, ow, oc, ic) = (p.outHeight, p.outWidth, p.outChannels, p.inChannels)
    let (groupIn, groupOut) = (p.groupInChannels, p.groupOutChannels)
    let n = row / oh, y = row % oh
    for x in 0..<ow {
      let out = output + ((n * oh + y) * ow + x) * oc
      for o in 0..<oc {
        let firstChannel = (o / groupOut) * groupIn
        var acc: Float = 0
        for kh in 0..<p.kernelHeight {
          let iy = y * p.strideHeight - p.padTop + kh * (p.dilationHeight + 1)
          if iy < 0 || iy >= p.inHeight { continue }
          for kw in 0..<p.kernelWidth {
            let ix = x * p.strideWidth - p.padLeft + kw * (p.dilationWidth + 1)
            if ix < 0 || ix >= p.inWidth { continue }
            let xin = input + ((n * p.inHeight + iy) * p.inWidth + ix) * ic + firstChannel
            let win = weights + ((o * p.kernelHeight + kh) * p.kernelWidth + kw) * groupIn
            for c in 0..<groupIn { acc += xin[c] * win[c] }
          }
        }
        out[o] = acc
      }
      applyEpilogue(out, count: oc, bias: bias, residual: residual.map { $0 + ((n * oh + y) * ow + x) * oc }, relu: relu)
    }
  }
}
