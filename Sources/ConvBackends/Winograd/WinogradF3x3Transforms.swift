/// F(3×3, 3×3): 3×3 output tiles from 5×5 input tiles, 25 products per tile
/// instead of 81 (3.24× fewer multiplications than direct convolution).
///
/// Between the other two in both what it saves and what it costs: its
/// transformed filters are 25/9 of the raw ones (F(2×2) 16/9, F(4×4) 36/9).
/// That matters on a 14×14 layer at batch 1, where each transformed filter
/// value is used only once per tile and the products stream the whole bank
/// from DRAM: 3×3 tiles cover 14×14 with 25 tiles (15×15), 4×4 tiles with 16
/// (16×16), so F(3×3) does about as many multiply-adds as F(4×4) (25·25 against
/// 36·16 per channel pair) from a bank 0.69× the size.
///
/// Construction as in `WinogradF4x3Transforms` (Toom–Cook after Lavin & Gray,
/// CVPR 2016, §4), with the finite points 0, 1, −1, 2 and ∞; row 0 of Bᵀ is
/// scaled by 2 and G's row 0 by 1/2 to keep Bᵀ and Aᵀ integral:
///
///     Bᵀ = ⎡ 2 −1 −2  1  0 ⎤    G = ⎡  1/2    0     0  ⎤    Aᵀ = ⎡ 1  1  1  1  0 ⎤
///          ⎢ 0 −2 −1  1  0 ⎥        ⎢ −1/2 −1/2  −1/2  ⎥         ⎢ 0  1 −1  2  0 ⎥
///          ⎢ 0  2 −3  1  0 ⎥        ⎢ −1/6  1/6  −1/6  ⎥         ⎣ 0  1  1  4  1 ⎦
///          ⎢ 0 −1  0  1  0 ⎥        ⎢  1/6  1/3   2/3  ⎥
///          ⎣ 0  2 −1 −2  1 ⎦        ⎣   0    0     1   ⎦
///
/// In a Float32 simulation (He-normal filters, 512 channels) its relative
/// error lies between F(2×2)'s and F(4×4)'s (2.5e-6 against 0.9e-6 and
/// 3.2e-6 of the largest output).
enum WinogradF3x3Transforms: WinogradTransforms {
  static let outputTile = 3
  static let inputTile = 5

  typealias Five = (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector)
  typealias Three = (WinogradVector, WinogradVector, WinogradVector)

  /// Bᵀ·d for one column (or dᵀ·B for one row) of five input pixels.
  @inline(__always)
  static func inputRow(_ d: Five) -> Five {
    let t = d.3 - d.2
    return (
      2 * (d.0 - d.2) - d.1 + d.3,
      t - 2 * d.1,
      t + 2 * (d.1 - d.2),
      d.3 - d.1,
      2 * (d.1 - d.3) + d.4 - d.2)
  }

  /// G·g for one row (or column) of three filter taps.
  @inline(__always)
  static func filterRow(_ g: (Double, Double, Double)) -> (Double, Double, Double, Double, Double) {
    (g.0 / 2,
     -(g.0 + g.1 + g.2) / 2,
     -(g.0 - g.1 + g.2) / 6,
     (g.0 + 2 * g.1 + 4 * g.2) / 6,
     g.2)
  }

  /// Aᵀ·m for one column (or row) of five products.
  @inline(__always)
  static func outputRow(_ m: Five) -> Three {
    (m.0 + m.1 + m.2 + m.3, m.1 - m.2 + 2 * m.3, m.1 + m.2 + 4 * m.3 + m.4)
  }

  static func transformFilter(_ g: (Int, Int) -> Double, _ store: (Int, Double) -> Void) {
    let r0 = filterRow((g(0, 0), g(0, 1), g(0, 2)))
    let r1 = filterRow((g(1, 0), g(1, 1), g(1, 2)))
    let r2 = filterRow((g(2, 0), g(2, 1), g(2, 2)))
    func storeColumn(_ col: Int, _ v: (Double, Double, Double, Double, Double)) {
      store(col, v.0); store(5 + col, v.1); store(10 + col, v.2); store(15 + col, v.3); store(20 + col, v.4)
    }
    storeColumn(0, filterRow((r0.0, r1.0, r2.0)))
    storeColumn(1, filterRow((r0.1, r1.1, r2.1)))
    storeColumn(2, filterRow((r0.2, r1.2, r2.2)))
    storeColumn(3, filterRow((r0.3, r1.3, r2.3)))
    storeColumn(4, filterRow((r0.4, r1.4, r2.4)))
  }

  @inline(never)
  static func inputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                        _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int) {
    @inline(__always) func load(_ k: Int) -> WinogradVector { VectorMemory.load(source + k * sourceStride) }
    @inline(__always) func store(_ v: WinogradVector, _ k: Int) { VectorMemory.store(v, destination + k * destinationStride) }
    let r = inputRow((load(0), load(1), load(2), load(3), load(4)))
    store(r.0, 0); store(r.1, 1); store(r.2, 2); store(r.3, 3); store(r.4, 4)
  }

  @inline(never)
  static func outputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                         _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int) {
    @inline(__always) func load(_ k: Int) -> WinogradVector { VectorMemory.load(source + k * sourceStride) }
    @inline(__always) func store(_ v: WinogradVector, _ k: Int) { VectorMemory.store(v, destination + k * destinationStride) }
    let r = outputRow((load(0), load(1), load(2), load(3), load(4)))
    store(r.0, 0); store(r.1, 1); store(r.2, 2)
  }
}
