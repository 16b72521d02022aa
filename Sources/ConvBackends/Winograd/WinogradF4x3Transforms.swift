/// F(4×4, 3×3): 4×4 output tiles from 6×6 input tiles, 36 products per tile
/// instead of 144 (4× fewer multiplications than direct convolution).
///
/// Construction (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", CVPR 2016, arXiv 1509.09308, §4, after Toom–Cook): choose five
/// finite interpolation points pᵢ and the point ∞. With Mᵢ(x) = Π_{j≠i} (x − pⱼ)
/// over the finite points (and M∞(x) = Π_j (x − pⱼ)):
///
/// - row i of Bᵀ holds the coefficients of Mᵢ, constant term first;
/// - row i of G is g(pᵢ) / Mᵢ(pᵢ), with g(x) = g₀ + g₁x + g₂x² (row ∞: (0, 0, 1));
/// - column i of Aᵀ is (1, pᵢ, pᵢ², pᵢ³) (column ∞: (0, 0, 0, 1)).
///
/// The paper's points 0, ±1, ±2 reach 1.2e-3 error (`ErrorMetric`) at 512
/// channels in a Float32 simulation with He-normal weights, above
/// `Tolerance.winograd`; the points 0, 1, −1, 2, −1/2 keep the entries as small
/// and reach 5.9e-4 (2–3× less at every channel count tried), in line with
/// Barabasz et al., "Error Analysis and Improving the Accuracy of Winograd
/// Convolution for Deep Neural Networks" (ACM TOMS 2020), on the choice of
/// points. Rows of Bᵀ and the −1/2 column of Aᵀ are scaled by powers of two
/// (exact in floating point) to make
/// them integral, with G scaled inversely:
///
///     Bᵀ = ⎡ 2  3 −4 −3  2  0 ⎤    G = ⎡  1/2     0      0   ⎤    Aᵀ = ⎡ 1  1  1  1  8  0 ⎤
///          ⎢ 0 −2 −5 −1  2  0 ⎥        ⎢ −1/6  −1/6   −1/6  ⎥         ⎢ 0  1 −1  2 −4  0 ⎥
///          ⎢ 0  2  1 −5  2  0 ⎥        ⎢  1/6  −1/6    1/6  ⎥         ⎢ 0  1  1  4  2  0 ⎥
///          ⎢ 0 −1 −2  1  2  0 ⎥        ⎢ 1/30   1/15   2/15 ⎥         ⎣ 0  1 −1  8 −1  1 ⎦
///          ⎢ 0  2 −1 −2  1  0 ⎥        ⎢ −2/15  1/15 −1/30  ⎥
///          ⎣ 0  2  3 −4 −3  2 ⎦        ⎣   0      0     1/2  ⎦
enum WinogradF4x3Transforms: WinogradTransforms {
  static let outputTile = 4
  static let inputTile = 6

  typealias Six = (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector)
  typealias Four = (WinogradVector, WinogradVector, WinogradVector, WinogradVector)

  /// Bᵀ·d for one column (or dᵀ·B for one row) of six input pixels.
  @inline(__always)
  static func inputRow(_ d: Six) -> Six {
    // Written with the shared differences named: in the form
    // `2 * (d.0 + d.4 - 2 * d.2) + 3 * (d.1 - d.3)` and its mirror for the
    // last row, LLVM's vectoriser pairs the two rows' lanes and shuffles them
    // back (40 shuffles and 16 spills in 153 instructions, against 86 and
    // none); the values are bit for bit the same (3·(d.1 − d.3) = −3·b).
    let a = d.4 - d.2, b = d.3 - d.1
    let p = d.0 + d.4 - 2 * d.2, q = d.1 + d.5 - 2 * d.3
    return (
      2 * p - 3 * b,
      2 * (d.4 - d.1) - 5 * d.2 - d.3,
      2 * (d.4 + d.1) + d.2 - 5 * d.3,
      2 * a + b,
      a - 2 * b,
      2 * q - 3 * a)
  }

  /// G·g for one row (or column) of three filter taps.
  @inline(__always)
  static func filterRow(_ g: (Double, Double, Double)) -> (Double, Double, Double, Double, Double, Double) {
    (g.0 / 2,
     -(g.0 + g.1 + g.2) / 6,
     (g.0 - g.1 + g.2) / 6,
     (g.0 + 2 * g.1 + 4 * g.2) / 30,
     (-4 * g.0 + 2 * g.1 - g.2) / 30,
     g.2 / 2)
  }

  /// Aᵀ·m for one column (or row) of six products.
  @inline(__always)
  static func outputRow(_ m: Six) -> Four {
    let a = m.1 + m.2, b = m.1 - m.2
    return (m.0 + a + m.3 + 8 * m.4, b + 2 * m.3 - 4 * m.4, a + 4 * m.3 + 2 * m.4, b + 8 * m.3 - m.4 + m.5)
  }

  static func transformFilter(_ g: (Int, Int) -> Double, _ store: (Int, Double) -> Void) {
    let r0 = filterRow((g(0, 0), g(0, 1), g(0, 2)))
    let r1 = filterRow((g(1, 0), g(1, 1), g(1, 2)))
    let r2 = filterRow((g(2, 0), g(2, 1), g(2, 2)))
    func storeColumn(_ col: Int, _ v: (Double, Double, Double, Double, Double, Double)) {
      store(col, v.0); store(6 + col, v.1); store(12 + col, v.2)
      store(18 + col, v.3); store(24 + col, v.4); store(30 + col, v.5)
    }
    storeColumn(0, filterRow((r0.0, r1.0, r2.0)))
    storeColumn(1, filterRow((r0.1, r1.1, r2.1)))
    storeColumn(2, filterRow((r0.2, r1.2, r2.2)))
    storeColumn(3, filterRow((r0.3, r1.3, r2.3)))
    storeColumn(4, filterRow((r0.4, r1.4, r2.4)))
    storeColumn(5, filterRow((r0.5, r1.5, r2.5)))
  }

  @inline(never)
  static func inputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                        _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int) {
    @inline(__always) func load(_ k: Int) -> WinogradVector { VectorMemory.load(source + k * sourceStride) }
    @inline(__always) func store(_ v: WinogradVector, _ k: Int) { VectorMemory.store(v, destination + k * destinationStride) }
    let r = inputRow((load(0), load(1), load(2), load(3), load(4), load(5)))
    store(r.0, 0); store(r.1, 1); store(r.2, 2); store(r.3, 3); store(r.4, 4); store(r.5, 5)
  }

  @inline(never)
  static func outputLine(_ source: UnsafePointer<Float>, _ sourceStride: Int,
                         _ destination: UnsafeMutablePointer<Float>, _ destinationStride: Int) {
    @inline(__always) func load(_ k: Int) -> WinogradVector { VectorMemory.load(source + k * sourceStride) }
    @inline(__always) func store(_ v: WinogradVector, _ k: Int) { VectorMemory.store(v, destination + k * destinationStride) }
    let r = outputRow((load(0), load(1), load(2), load(3), load(4), load(5)))
    store(r.0, 0); store(r.1, 1); store(r.2, 2); store(r.3, 3)
  }
}
