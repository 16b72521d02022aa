import ConvCore

/// Register-blocked, cache-tiled direct convolution in Swift SIMD.
///
/// Activations NHWC, weights repacked from OIHW into output-channel panels
/// (`ConvWeightPanels`). Each register tile holds `mr` output pixels × `nr`
/// vectors of 16 output channels (`OuterProductMicrokernel`); the input is read
/// in place, with an explicit zero border (`ZeroPaddedInput`) when the layer
/// pads. Every shape is supported: channel counts that are not multiples of 16
/// use partial stores, pixel counts that are not multiples of `mr` a partial
/// last tile. Knobs: see `TiledConvConfiguration`.
public struct TiledSIMDBackend: ConvolutionBackend {
  public init() {}
  public var name: String { "tiled-simd" }
  public var summary: String { "direct convolution, SIMD16 register tiles (mr pixels × 16·nr channels), cache-blocked, fused epilogue" }
  public var availability: Availability { .available }
  public func supports(_ problem: ConvProblem) -> Support { .yes }

  public func configurations(for problem: ConvProblem) -> [BackendConfig] {
    TiledConvConfiguration.candidates(for: problem).map(\.backendConfig)
  }

  public func prepare(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig) throws -> PreparedConvolution {
    if let why = problem.invalidReason { throw BackendError("tiled-simd: \(why)") }
    guard weights.weights.count == problem.weightCount, weights.bias.count == problem.outChannels else {
      throw BackendError("tiled-simd: \(weights.weights.count) weights and \(weights.bias.count) biases do not fit \(problem.descriptor)")
    }
    let knobs = try TiledConvConfiguration(config, problem: problem)
    return PreparedTiledConvolution(problem: problem, weights: weights, knobs: knobs)
  }
}
