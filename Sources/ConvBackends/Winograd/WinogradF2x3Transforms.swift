/// F(2×2, 3×3): 2×2 output tiles from 4×4 input tiles, 16 products per tile
/// instead of 36 (2.25× fewer multiplications than direct convolution).
///
/// The matrices are those of Lavin & Gray, "Fast Algorithms for Convolutional
/// Neural Networks" (CVPR 2016, arXiv 1509.09308), §4, obtained by Toom–Cook
/// interpolation at the points 0, 1, −1 and ∞ (see `WinogradF4x3Transforms`
/// for the construction):
///
///     Bᵀ = ⎡ 1  0 −1  0 ⎤    G = ⎡  1    0    0  ⎤    Aᵀ = ⎡ 1  1  1  0 ⎤
///          ⎢ 0  1  1  0 ⎥        ⎢ 1/2  1/2  1/2 ⎥         ⎣ 0  1 −1 −1 ⎦
///          ⎢ 0 −1  1  0 ⎥        ⎢ 1/2 −1/2  1/2 ⎥
///          ⎣ 0  1  0 −1 ⎦        ⎣  0    0    1  ⎦
enum WinogradF2x3Transforms: WinogradTransforms {
  static let outputTile = 2
  static let inputTile = 4

  typealias Four = (WinogradVector, WinogradVector, WinogradVector, WinogradVector)
  typealias Two = (WinogradVector, WinogradVector)

  /// Bᵀ·d for one column (or dᵀ·B for one row) of four input pixels.
  @inline(__always)
  static func inputRow(_ d: Four) -> Four {
    (d.0 - d.2, d.1 + d.2, d.2 - d.1, d.1 - d.3)
  }

  /// G·g for one row (or column) of three filter taps.
  @inline(__always)
  static func filterRow(_ g: (Double, Double, Double)) -> (Double, Double, Double, Double) {
    (g.0, (g.0 + g.1 + g.2) / 2, (g.0 - g.1 + g.2) / 2, g.2)
  }

  /// Aᵀ·m for one column (or row) of four products.
  @inline(__always)
  static func outputRow(_ m: Four) -> Two {
    (m.0 + m.1 + m.2, m.1 - m.2 - m.3)
  }

  static func transformFilter(_ g: (Int, Int) -> Double, _ store: (Int, Double) -> Void) {
    let r0 = filterRow((g(0, 0), g(0, 1), g(0, 2)))
    let r1 = filterRow((g(1, 0), g(1, 1), g(1, 2)))
    let r2 = filterRow((g(2, 0), g(2, 1), g(2, 2)))
    func storeColumn(_ col: Int, _ v: (Double, Double, Double, Double)) {
      store(col, v.0); store(4 + col, v.1); store(8 + col, v.2); store(12 + col, v.3)
    }
    storeColumn(0, filterRow((r0.0, r1.0, r2.0)))
    storeColumn(1, filterRow((r0.1, r1.1, r2.1)))
    storeColumn(2, filterRow((r0.2, r1.2, r2.2)))
    storeColumn(3, filterRow((r0.3, r1.3, r2.3)))
  }

  @inline(never)
  static func inputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                        _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int) {
    @inline(__always) func load(_ k: Int) -> WinogradVector { VectorMemory.load(source + k * sourceStride) }
    @inline(__always) func store(_ v: WinogradVector, _ k: Int) { VectorMemory.store(v, destination + k * destinationStride) }
    let r = inputRow((load(0), load(1), load(2), load(3)))
    store(r.0, 0); store(r.1, 1); store(r.2, 2); store(r.3, 3)
  }

  @inline(never)
  static func outputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                         _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int) {
    @inline(__always) func load(_ k: Int) -> WinogradVector { VectorMemory.load(source + k * sourceStride) }
    @inline(__always) func store(_ v: WinogradVector, _ k: Int) { VectorMemory.store(v, destination + k * destinationStride) }
    let r = outputRow((load(0), load(1), load(2), load(3)))
    store(r.0, 0); store(r.1, 1)
  }
}
