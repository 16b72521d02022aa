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

  typealias Four = (ChannelVector, ChannelVector, ChannelVector, ChannelVector)
  typealias Two = (ChannelVector, ChannelVector)

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

  @inline(__always)
  static func transformInput(_ load: (Int, Int) -> ChannelVector, _ store: (Int, ChannelVector) -> Void) {
    let r0 = inputRow((load(0, 0), load(0, 1), load(0, 2), load(0, 3)))
    let r1 = inputRow((load(1, 0), load(1, 1), load(1, 2), load(1, 3)))
    let r2 = inputRow((load(2, 0), load(2, 1), load(2, 2), load(2, 3)))
    let r3 = inputRow((load(3, 0), load(3, 1), load(3, 2), load(3, 3)))
    @inline(__always) func storeColumn(_ col: Int, _ v: Four) {
      store(col, v.0); store(4 + col, v.1); store(8 + col, v.2); store(12 + col, v.3)
    }
    storeColumn(0, inputRow((r0.0, r1.0, r2.0, r3.0)))
    storeColumn(1, inputRow((r0.1, r1.1, r2.1, r3.1)))
    storeColumn(2, inputRow((r0.2, r1.2, r2.2, r3.2)))
    storeColumn(3, inputRow((r0.3, r1.3, r2.3, r3.3)))
  }

  @inline(__always)
  static func transformOutput(_ load: (Int) -> ChannelVector, _ store: (Int, Int, ChannelVector) -> Void) {
    let r0 = outputRow((load(0), load(1), load(2), load(3)))
    let r1 = outputRow((load(4), load(5), load(6), load(7)))
    let r2 = outputRow((load(8), load(9), load(10), load(11)))
    let r3 = outputRow((load(12), load(13), load(14), load(15)))
    let c0 = outputRow((r0.0, r1.0, r2.0, r3.0))
    let c1 = outputRow((r0.1, r1.1, r2.1, r3.1))
    store(0, 0, c0.0); store(0, 1, c1.0)
    store(1, 0, c0.1); store(1, 1, c1.1)
  }
}
