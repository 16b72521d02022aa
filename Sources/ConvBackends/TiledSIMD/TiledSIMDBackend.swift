import ConvCore

/// Register-blocked, cache-tiled direct convolution in Swift SIMD.
///
/// Activations NHWC, weights repacked from OIHW into output-channel panels
/// (`ConvWeightPanels`). Each register tile holds `mr` output pixels × `nr`
/// vectors of `v` output channels (an entry of `KernelTable`, `v` the
/// machine's vector width by default); the input is read in place, with an
/// explicit zero border (`ZeroPaddedInput`) when the layer pads. Every 2-D
/// shape is supported, groups, dilation and asymmetric padding included:
/// channel counts that are not multiples of the vector use partial stores,
/// pixel counts that are not multiples of `mr` a partial last tile.
/// Knobs: see `TiledConvConfiguration`.
public struct TiledSIMDBackend: ConvolutionBackend {
  public init() {}
  public var name: String { "tiled-simd" }
  public var summary: String { "direct convolution, SIMD register tiles (mr pixels × nr vectors of channels), cache-blocked, fused epilogue" }
  public var availability: Availability { .available }
  public func supports(_ problem: ConvProblem) -> Support { .yes }
  /// The fastest general method measured here: the first stand-in for a layer another backend cannot compute.
  public var fallbackRank: Int? { 0 }

  public func configurations(for problem: ConvProblem, machine: MachineModel) -> [BackendConfig] {
    TiledConvConfiguration.candidates(for: problem, machine: machine).map(\.backendConfig)
  }

  public func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    let knobs = try TiledConvConfiguration(config, problem: problem, machine: machine)
    guard let tile = knobs.tile else { throw BackendError("tiled-simd: no kernel for \(knobs.backendConfig)") }
    return PreparedTiledConvolution(problem: problem, weights: weights, knobs: knobs, tile: tile, machine: machine)
  }
}
