/// Sixteen channels of one activation or transformed value: one AVX-512 register.
typealias ChannelVector = SIMD16<Float>

/// One Winograd minimal-filtering algorithm F(m×m, 3×3) (Lavin & Gray, "Fast
/// Algorithms for Convolutional Neural Networks", CVPR 2016, arXiv 1509.09308):
/// an m×m output tile of a 3×3 correlation is computed from an α×α input tile,
/// α = m + 2, as
///
///     Y = Aᵀ · [(G·g·Gᵀ) ⊙ (Bᵀ·d·B)] · A
///
/// with g the 3×3 filter, d the input tile, ⊙ the element-wise product. Summed
/// over input channels, the element-wise products become α² independent matrix
/// products, which is where the backend spends its time.
///
/// Each 2-D transform is its 1-D transform applied to every row, then to every
/// column, of the tile. The 1-D transforms are exposed separately so that they
/// can be checked against direct correlation.
protocol WinogradTransforms {
  /// m: output pixels per tile side.
  static var outputTile: Int { get }
  /// α = m + 2: input pixels per tile side, and transformed values per side.
  static var inputTile: Int { get }

  /// G·g·Gᵀ in Float64 for one 3×3 filter.
  /// - Parameters:
  ///   - g: `g(row, col)` gives the filter tap at row, col ∈ 0..<3.
  ///   - store: receives element `row · α + col` of the α×α transformed filter.
  static func transformFilter(_ g: (Int, Int) -> Double, _ store: (Int, Double) -> Void)

  /// Bᵀ·d·B on sixteen channels at once.
  /// - Parameters:
  ///   - load: `load(row, col)` gives input pixel row, col ∈ 0..<α of the tile
  ///     (zero outside the image).
  ///   - store: receives element `row · α + col` of the α×α transformed tile.
  static func transformInput(_ load: (Int, Int) -> ChannelVector, _ store: (Int, ChannelVector) -> Void)

  /// Aᵀ·M·A on sixteen channels at once.
  /// - Parameters:
  ///   - load: `load(element)` gives element `row · α + col` of the α×α tile of products.
  ///   - store: receives output pixel row, col ∈ 0..<m of the tile.
  static func transformOutput(_ load: (Int) -> ChannelVector, _ store: (Int, Int, ChannelVector) -> Void)
}
