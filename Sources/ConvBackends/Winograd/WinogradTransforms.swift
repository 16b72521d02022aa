/// Sixteen channels of one activation or transformed value: the unit of the
/// transforms and of the tiling's channel padding, whatever the machine's
/// vector width. The transforms are additions of whole tiles (memory-bound,
/// a few operations per value loaded), so a 16-float run costs one AVX-512
/// register or two AVX2 registers alike; the products, where the time goes,
/// run on `KernelTable`'s native tiles.
typealias WinogradVector = SIMD16<Float>

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
/// column, of the tile, sixteen channels at a time. The 1-D vector transforms
/// are small functions kept out of line on purpose: inlined into one large
/// tile loop, LLVM stops vectorising Swift's SIMD16 arithmetic and emits
/// scalar code (measured 10× slower).
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

  /// Bᵀ·x for one line of α vectors of sixteen channels, vector k at
  /// `source + k · sourceStride`, result k at `destination + k · destinationStride`
  /// (strides in floats).
  static func inputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                        _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int)

  /// Aᵀ·x for one line: α vectors in, m vectors out, laid out as in `inputLine`.
  static func outputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                         _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int)
}

extension WinogradTransforms {
  /// Floats of scratch the 2-D transforms need: one α×α tile of vectors.
  static var scratchFloats: Int { inputTile * inputTile * WinogradVector.scalarCount }

  /// Bᵀ·d·B for sixteen channels of one tile.
  /// - Parameters:
  ///   - d: pixel (row, col) of the tile at `d + row · rowStride + col · columnStride`.
  ///   - v: transformed element ξ = row · α + col goes to `v + ξ · elementStride`.
  ///   - scratch: `scratchFloats` floats.
  @inline(__always)
  static func transformInput(
    _ d: UnsafePointer<Float>, rowStride: Int, columnStride: Int,
    into v: UnsafeMutablePointer<Float>, elementStride: Int, scratch: UnsafeMutablePointer<Float>
  ) {
    let (alpha, width) = (inputTile, WinogradVector.scalarCount)
    for row in 0..<alpha {
      inputLine(d + row * rowStride, columnStride, scratch + row * alpha * width, width)
    }
    for col in 0..<alpha {
      inputLine(scratch + col * width, alpha * width, v + col * elementStride, alpha * elementStride)
    }
  }

  /// Aᵀ·M·A for sixteen channels of one tile.
  /// - Parameters:
  ///   - products: element ξ of the α×α tile at `products + ξ · elementStride`.
  ///   - y: output pixel (row, col) goes to `y + (row · m + col) · 16`.
  ///   - scratch: `scratchFloats` floats.
  @inline(__always)
  static func transformOutput(
    _ products: UnsafePointer<Float>, elementStride: Int,
    into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
  ) {
    let (alpha, m, width) = (inputTile, outputTile, WinogradVector.scalarCount)
    for row in 0..<alpha {
      outputLine(products + row * alpha * elementStride, elementStride, scratch + row * m * width, width)
    }
    for col in 0..<m {
      outputLine(scratch + col * width, m * width, y + col * width, m * width)
    }
  }
}
