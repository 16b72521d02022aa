/// F(4×4, 3×3): 4×4 output tiles from 6×6 input tiles, 36 products per tile
/// instead of 144 (4× fewer multiplications than direct convolution).
///
/// Construction (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", CVPR 2016, arXiv 1509.09308, §4, after Toom–Cook): choose α − 1 = 5
/// finite interpolation points pᵢ = 0, 1, −1, 2, −2 and the point ∞. With
/// Mᵢ(x) = Π_{j≠i} (x − pⱼ) over the finite points (and M∞(x) = Π_j (x − pⱼ)):
///
/// - row i of Bᵀ holds the coefficients of Mᵢ, constant term first;
/// - row i of G is g(pᵢ) / Mᵢ(pᵢ), with g(x) = g₀ + g₁x + g₂x² (row ∞: g₂);
/// - column i of Aᵀ is (1, pᵢ, pᵢ², pᵢ³) (column ∞: (0, 0, 0, 1)).
///
/// This gives the paper's matrices:
///
///     Bᵀ = ⎡ 4  0 −5  0  1  0 ⎤    G = ⎡  1/4     0     0  ⎤    Aᵀ = ⎡ 1  1  1  1  1  0 ⎤
///          ⎢ 0 −4 −4  1  1  0 ⎥        ⎢ −1/6  −1/6  −1/6 ⎥         ⎢ 0  1 −1  2 −2  0 ⎥
///          ⎢ 0  4 −4 −1  1  0 ⎥        ⎢ −1/6   1/6  −1/6 ⎥         ⎢ 0  1  1  4  4  0 ⎥
///          ⎢ 0 −2 −1  2  1  0 ⎥        ⎢ 1/24  1/12   1/6 ⎥         ⎣ 0  1 −1  8 −8  1 ⎦
///          ⎢ 0  2 −1 −2  1  0 ⎥        ⎢ 1/24 −1/12   1/6 ⎥
///          ⎣ 0  4  0 −5  0  1 ⎦        ⎣   0     0     1  ⎦
///
/// The larger entries (up to 8 in Aᵀ, 5 in Bᵀ) amplify rounding error by
/// roughly an order of magnitude over F(2×2, 3×3); `Tolerance.winograd` covers it.
enum WinogradF4x3Transforms: WinogradTransforms {
  static let outputTile = 4
  static let inputTile = 6

  typealias Six = (ChannelVector, ChannelVector, ChannelVector, ChannelVector, ChannelVector, ChannelVector)
  typealias Four = (ChannelVector, ChannelVector, ChannelVector, ChannelVector)

  /// Bᵀ·d for one column (or dᵀ·B for one row) of six input pixels, with the
  /// sums shared between rows 1–4 of Bᵀ (12 vector operations instead of 20).
  @inline(__always)
  static func inputRow(_ d: Six) -> Six {
    let a = d.4 - 4 * d.2, b = d.3 - 4 * d.1
    let c = d.4 - d.2, e = 2 * (d.3 - d.1)
    return (
      4 * d.0 - 5 * d.2 + d.4,
      a + b, a - b,
      c + e, c - e,
      4 * d.1 - 5 * d.3 + d.5)
  }

  /// G·g for one row (or column) of three filter taps.
  @inline(__always)
  static func filterRow(_ g: (Double, Double, Double)) -> (Double, Double, Double, Double, Double, Double) {
    (g.0 / 4,
     -(g.0 + g.1 + g.2) / 6,
     -(g.0 - g.1 + g.2) / 6,
     (g.0 + 2 * g.1 + 4 * g.2) / 24,
     (g.0 - 2 * g.1 + 4 * g.2) / 24,
     g.2)
  }

  /// Aᵀ·m for one column (or row) of six products.
  @inline(__always)
  static func outputRow(_ m: Six) -> Four {
    let a = m.1 + m.2, b = m.1 - m.2
    let c = m.3 + m.4, d = m.3 - m.4
    return (m.0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + m.5)
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

  @inline(__always)
  static func transformInput(_ load: (Int, Int) -> ChannelVector, _ store: (Int, ChannelVector) -> Void) {
    @inline(__always) func row(_ i: Int) -> Six {
      inputRow((load(i, 0), load(i, 1), load(i, 2), load(i, 3), load(i, 4), load(i, 5)))
    }
    let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5)
    @inline(__always) func storeColumn(_ col: Int, _ v: Six) {
      store(col, v.0); store(6 + col, v.1); store(12 + col, v.2)
      store(18 + col, v.3); store(24 + col, v.4); store(30 + col, v.5)
    }
    storeColumn(0, inputRow((r0.0, r1.0, r2.0, r3.0, r4.0, r5.0)))
    storeColumn(1, inputRow((r0.1, r1.1, r2.1, r3.1, r4.1, r5.1)))
    storeColumn(2, inputRow((r0.2, r1.2, r2.2, r3.2, r4.2, r5.2)))
    storeColumn(3, inputRow((r0.3, r1.3, r2.3, r3.3, r4.3, r5.3)))
    storeColumn(4, inputRow((r0.4, r1.4, r2.4, r3.4, r4.4, r5.4)))
    storeColumn(5, inputRow((r0.5, r1.5, r2.5, r3.5, r4.5, r5.5)))
  }

  @inline(__always)
  static func transformOutput(_ load: (Int) -> ChannelVector, _ store: (Int, Int, ChannelVector) -> Void) {
    @inline(__always) func row(_ i: Int) -> Four {
      let e = 6 * i
      return outputRow((load(e), load(e + 1), load(e + 2), load(e + 3), load(e + 4), load(e + 5)))
    }
    let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5)
    @inline(__always) func storeColumn(_ col: Int, _ v: Four) {
      store(0, col, v.0); store(1, col, v.1); store(2, col, v.2); store(3, col, v.3)
    }
    storeColumn(0, outputRow((r0.0, r1.0, r2.0, r3.0, r4.0, r5.0)))
    storeColumn(1, outputRow((r0.1, r1.1, r2.1, r3.1, r4.1, r5.1)))
    storeColumn(2, outputRow((r0.2, r1.2, r2.2, r3.2, r4.2, r5.2)))
    storeColumn(3, outputRow((r0.3, r1.3, r2.3, r3.3, r4.3, r5.3)))
  }
}
