import ConvCore

/// One stride-1 3×3 convolution as Winograd F(2, 3) along the rows only
/// (`dims=1`): each output tile is one row of two pixels, its input tile
/// three rows of four pixels.
///
/// The 1-D transform is applied to every input row: for tile `t` of row `y`,
/// V[ξ][y][t][c] = (Bᵀ·d)[ξ], d the four pixels from column 2t − padLeft, and
/// to every kernel row `r`: U[ξ][r] = G·g[r] (the F(2, 3) matrices of
/// `WinogradF2x3Transforms`). The products are then a 3×1 convolution per ξ:
///
///     M[ξ][y][t][o] = Σ_r Σ_c V[ξ][y + r][t][c] · U[ξ][r][c][o]
///
/// which is exactly what the tiled direct convolution computes on an image of
/// (outHeight + 2) rows × (outWidth / 2) tiles × C channels with a 3×1
/// kernel, so it runs on that kernel (`PreparedTiledConvolution`) unchanged.
/// The output transform is Aᵀ·M[·][y][t] per tile, with the epilogue.
///
/// Why: on late layers with few pixels (512 channels at 7×7) F(2×2)'s
/// products stream a transformed filter bank of 16·C·K floats with few rows
/// per product (16 tiles); here the bank is 12·C·K with 28 rows, and
/// 336/441 of direct convolution's multiply-adds (28 tiles × 12 against 49 ×
/// 9) where F(2×2) needs 256/441. Measured in the Keras ResNet-50 with the
/// rest of the plan unchanged: at 1 thread 2.89–2.96 against 3.19–3.30 ms per
/// layer; at 2 threads faster on a slow host (1.66–1.73 against 1.75–1.86 ms)
/// and slower on a fast one (1.43–1.47 against 1.40 ms), so it is a tuner
/// candidate, not a default.
final class PreparedRowWinograd: PreparedConvolution, @unchecked Sendable {
  static let points = 4

  let problem: ConvProblem
  let config: BackendConfig
  /// Tiles per output row: ⌈outWidth / 2⌉.
  private let tilesWide: Int
  /// Rows of each transformed-input plane: outHeight + 2.
  private let transformedRows: Int
  /// The 3×1 convolution of plane ξ, ξ ∈ 0..<4.
  private let products: [PreparedTiledConvolution]
  /// `outChannels` values, zero-padded to a whole vector.
  private let bias: AlignedBuffer
  private let vPlaneFloats: Int
  private let mPlaneFloats: Int
  let workspaceBytes: Int

  /// The 3×1 problem each plane's products solve.
  static func productProblem(_ p: ConvProblem) -> ConvProblem {
    ConvProblem(batch: p.batch, inChannels: p.inChannels, inHeight: p.outHeight + 2, inWidth: (p.outWidth + 1) / 2,
                outChannels: p.outChannels, kernelHeight: 3, kernelWidth: 1)
  }

  init(problem p: ConvProblem, weights w: ConvWeights, config: BackendConfig, knobs: TiledConvConfiguration,
       tile: RegisterTile, machine: MachineModel) {
    problem = p
    self.config = config
    tilesWide = (p.outWidth + 1) / 2
    transformedRows = p.outHeight + 2
    let inner = Self.productProblem(p)
    let (c, k) = (p.inChannels, p.outChannels)
    var planes: [[Float]] = Array(repeating: [Float](repeating: 0, count: k * c * 3), count: Self.points)
    for o in 0..<k {
      for i in 0..<c {
        let filter = (o * c + i) * 9
        for r in 0..<3 {
          let (g0, g1, g2) = (Double(w.weights[filter + r * 3]), Double(w.weights[filter + r * 3 + 1]),
                              Double(w.weights[filter + r * 3 + 2]))
          let u = WinogradF2x3Transforms.filterRow((g0, g1, g2))
          let at = (o * c + i) * 3 + r
          planes[0][at] = Float(u.0)
          planes[1][at] = Float(u.1)
          planes[2][at] = Float(u.2)
          planes[3][at] = Float(u.3)
        }
      }
    }
    let zeroBias = [Float](repeating: 0, count: k)
    products = planes.map { plane in
      PreparedTiledConvolution(problem: inner, weights: ConvWeights(weights: plane, bias: zeroBias), knobs: knobs,
                               tile: tile, machine: machine)
    }
    bias = AlignedBuffer(count: WinogradTiling.roundUpToVector(k))
    for o in 0..<k { bias.pointer[o] = w.bias[o] }
    vPlaneFloats = inner.inputCount
    mPlaneFloats = inner.outputCount
    let innerWorkspace = products.map(\.workspaceBytes).max() ?? 0
    workspaceBytes = Self.points * (vPlaneFloats + mPlaneFloats) * MemoryLayout<Float>.stride + innerWorkspace
  }

  var packedWeightBytes: Int { products.reduce(0) { $0 + $1.packedWeightBytes } + bias.count * MemoryLayout<Float>.stride }
  var packedWeightBuffers: [AlignedBuffer] { products.flatMap(\.packedWeightBuffers) + [bias] }
  /// The products go to the workspace; only the output transform reads the
  /// residual, each element just before it stores the same element.
  var residualInPlace: Bool { true }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    let floats = workspace.bindMemory(to: Float.self, capacity: workspaceBytes / MemoryLayout<Float>.stride)
    let v = floats, m = floats + Self.points * vPlaneFloats
    let inner = UnsafeMutableRawPointer(m + Self.points * mPlaneFloats)
    pool.parallelFor(problem.batch * transformedRows, RowInputTransform(owner: self, input: input, v: v))
    for (e, prepared) in products.enumerated() {
      prepared.run(input: UnsafePointer(v + e * vPlaneFloats), output: m + e * mPlaneFloats, residual: nil, relu: false,
                   workspace: inner, pool: pool)
    }
    pool.parallelFor(problem.batch * problem.outHeight, RowOutputTransform(
      owner: self, products: UnsafePointer(m), output: output, residual: residual, relu: relu))
  }

  /// Transformed row `row` (image, padded row) of all four planes.
  fileprivate func transformInputRow(_ row: Int, input: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>) {
    let p = problem
    let (h, w, c) = (p.inHeight, p.inWidth, p.inChannels)
    let n = row / transformedRows, y = row % transformedRows - p.padTop
    let lanes = WinogradVector.scalarCount
    let destination = v + row * tilesWide * c
    guard y >= 0 && y < h else {
      for e in 0..<Self.points { (destination + e * vPlaneFloats).update(repeating: 0, count: tilesWide * c) }
      return
    }
    let source = input + (n * h + y) * w * c
    for t in 0..<tilesWide {
      let x0 = 2 * t - p.padLeft
      let interior = x0 >= 0 && x0 + 4 <= w
      var cv = 0
      while cv < c {
        let count = min(lanes, c - cv)
        @inline(__always) func pixel(_ s: Int) -> WinogradVector {
          let x = x0 + s
          if !interior && (x < 0 || x >= w) { return WinogradVector() }
          return VectorMemory.load(source + x * c + cv, count: count)
        }
        let r = WinogradF2x3Transforms.inputRow((pixel(0), pixel(1), pixel(2), pixel(3)))
        let at = destination + t * c + cv
        VectorMemory.store(r.0, at, count: count)
        VectorMemory.store(r.1, at + vPlaneFloats, count: count)
        VectorMemory.store(r.2, at + 2 * vPlaneFloats, count: count)
        VectorMemory.store(r.3, at + 3 * vPlaneFloats, count: count)
        cv += lanes
      }
    }
  }

  /// Output row `row` (image, output row) from the four product planes, with the epilogue.
  fileprivate func transformOutputRow(
    _ row: Int, products m: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool
  ) {
    let p = problem
    let (ow, k) = (p.outWidth, p.outChannels)
    let lanes = WinogradVector.scalarCount
    let source = m + row * tilesWide * k
    let first = row * ow * k
    for t in 0..<tilesWide {
      let columns = min(2, ow - 2 * t)
      var kv = 0
      while kv < k {
        let count = min(lanes, k - kv)
        let at = source + t * k + kv
        let r = WinogradF2x3Transforms.outputRow((
          VectorMemory.load(at, count: count), VectorMemory.load(at + mPlaneFloats, count: count),
          VectorMemory.load(at + 2 * mPlaneFloats, count: count), VectorMemory.load(at + 3 * mPlaneFloats, count: count)))
        let b = VectorMemory.load(bias.pointer + kv, as: WinogradVector.self)
        for s in 0..<columns {
          let offset = first + (2 * t + s) * k + kv
          var y = (s == 0 ? r.0 : r.1) + b
          if let residual { y += VectorMemory.load(residual + offset, count: count) }
          if relu { y.replace(with: 0, where: y .< 0) }
          VectorMemory.store(y, output + offset, count: count)
        }
        kv += lanes
      }
    }
  }
}

private struct RowInputTransform: ParallelTask {
  let owner: PreparedRowWinograd
  let input: UnsafePointer<Float>
  let v: UnsafeMutablePointer<Float>
  func run(_ row: Int) { owner.transformInputRow(row, input: input, v: v) }
}

private struct RowOutputTransform: ParallelTask {
  let owner: PreparedRowWinograd
  let products: UnsafePointer<Float>
  let output: UnsafeMutablePointer<Float>
  let residual: UnsafePointer<Float>?
  let relu: Bool
  func run(_ row: Int) { owner.transformOutputRow(row, products: products, output: output, residual: residual, relu: relu) }
}
