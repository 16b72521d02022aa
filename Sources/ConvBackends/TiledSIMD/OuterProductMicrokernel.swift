/// The register-blocked inner kernel shared by `SIMDGemm` and the tiled direct
/// convolution: it keeps an `MR × (NR·16)` tile of outputs in vector registers
/// and adds one rank-1 update (an outer product) per reduction step.
///
/// Each step loads `NR` vectors of 16 consecutive packed weights (output
/// channels / GEMM columns), broadcasts one value of each of the `MR` rows
/// (output pixels / GEMM rows) and issues `MR·NR` fused multiply-adds. This is
/// the microkernel of Goto & van de Geijn 2008, "Anatomy of high-performance
/// matrix multiplication", §5, with the roles of the operands chosen for an
/// NHWC activation: rows are read in place with a broadcast, so only the
/// weights need packing. `MR·NR` independent accumulators must cover the FMA
/// latency times the FMA throughput (Low et al. 2016, "Analytical modeling is
/// enough for high-performance BLIS", §3): 4 cycles × 1 per cycle on Zen 4,
/// whose two 256-bit pipes take one 512-bit FMA per cycle, up to 4 × 2 = 8 on
/// cores with two 512-bit pipes; and with the `NR` weight vectors and the
/// broadcast they must fit the 32 vector registers of AVX-512, which
/// `MR ≤ 12` with `NR = 2` does.
///
/// `MR` and `NR` are generic values so every instantiation compiles to straight
/// code with its accumulators in registers (an `InlineArray` indexed only by
/// constants after unrolling is promoted to registers).
enum OuterProductMicrokernel {
  /// The SIMD vector the output channels are held in: one AVX-512 register
  /// (two AVX2 registers on x86-64 without AVX-512); half that elsewhere.
  #if arch(x86_64)
  typealias Vector = SIMD16<Float>
  #else
  typealias Vector = SIMD8<Float>
  #endif
  /// Floats per `Vector`.
  static let lanes = Vector.scalarCount

  /// `MR` rows of `NR` vectors.
  typealias Accumulators<let MR: Int, let NR: Int> = InlineArray<MR, InlineArray<NR, Vector>>

  /// Where the valid part of a tile is: the kernel always computes a full
  /// `MR × NR·lanes` tile, but only `rows × columns` of it exist in the output.
  struct TileExtent {
    var rows: Int
    var columns: Int
  }

  /// The fused epilogue `y = act(acc + bias + residual)`.
  struct Epilogue {
    /// One value per column, starting at the tile's first column; nil for none.
    var bias: UnsafePointer<Float>?
    /// The residual of the tile's first row and column; row `i` starts at `residual + i·residualStride`.
    var residual: UnsafePointer<Float>?
    var residualStride: Int
    var relu: Bool

    static let none = Epilogue(bias: nil, residual: nil, residualStride: 0, relu: false)
  }

  /// All-zero accumulators.
  @inline(__always)
  static func zero<let MR: Int, let NR: Int>() -> Accumulators<MR, NR> {
    Accumulators<MR, NR>(repeating: InlineArray<NR, Vector>(repeating: Vector()))
  }

  /// Loads the valid part of a tile of `c` (row `i` at `c + i·ldc`); the rest is zero.
  @inline(__always)
  static func load<let MR: Int, let NR: Int>(
    _ acc: inout Accumulators<MR, NR>, from c: UnsafePointer<Float>, ldc: Int, extent: TileExtent
  ) {
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: MR * NR) { tile in
      for i in 0..<MR {
        for v in 0..<NR {
          tile[i * NR + v] = i < extent.rows ? loadPartial(c + i * ldc + v * lanes, count: extent.columns - v * lanes) : Vector()
        }
      }
      fill(&acc, from: tile)
    }
  }

  /// Adds `Σ_taps Σ_{j<run} row[i][tapOffset + j] · weights[step][0..<NR·lanes]` to the tile.
  ///
  /// The reduction is a 2-D set of taps (kernel rows × kernel columns of a
  /// convolution; a single tap for a GEMM), each a contiguous run of `run`
  /// values of every row, at offset `tr·tapRowStride + tc·tapColumnStride`.
  /// Weights are read strictly in order, `weightStride` floats per step: the
  /// packing puts them exactly where this loop reads them.
  @inline(__always)
  static func accumulate<let MR: Int, let NR: Int>(
    _ acc: inout Accumulators<MR, NR>, rows: InlineArray<MR, UnsafePointer<Float>>,
    tapRows: Int, tapRowStride: Int, tapColumns: Int, tapColumnStride: Int, run: Int,
    weights: UnsafePointer<Float>, weightStride: Int
  ) {
    var w = weights
    for tr in 0..<tapRows {
      for tc in 0..<tapColumns {
        let offset = tr * tapRowStride + tc * tapColumnStride
        let tapRows = InlineArray<MR, UnsafePointer<Float>> { rows[$0] + offset }
        for j in 0..<run {
          let b = InlineArray<NR, Vector> { UnsafeRawPointer(w + $0 * lanes).loadUnaligned(as: Vector.self) }
          for i in 0..<MR {
            let a = Vector(repeating: tapRows[i][j])
            for v in 0..<NR { acc[i][v] = acc[i][v].addingProduct(a, b[v]) }
          }
          w += weightStride
        }
      }
    }
  }

  /// Stores the valid part of the tile to `c` (row `i` at `c + i·ldc`), applying `epilogue`.
  @inline(__always)
  static func store<let MR: Int, let NR: Int>(
    _ acc: Accumulators<MR, NR>, to c: UnsafeMutablePointer<Float>, ldc: Int, extent: TileExtent, epilogue: Epilogue
  ) {
    if extent.rows == MR && extent.columns >= NR * lanes {
      storeFull(acc, to: c, ldc: ldc, epilogue: epilogue)
      return
    }
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: MR * NR) { tile in
      spill(acc, to: tile)
      var biasVectors = InlineArray<NR, Vector>(repeating: Vector())
      if let bias = epilogue.bias {
        for v in 0..<NR { biasVectors[v] = loadPartial(bias + v * lanes, count: extent.columns - v * lanes) }
      }
      let zero = Vector()
      for i in 0..<extent.rows {
        for v in 0..<NR {
          let count = extent.columns - v * lanes
          if count <= 0 { break }
          var y = tile[i * NR + v] + biasVectors[v]
          if let residual = epilogue.residual {
            y += loadPartial(residual + i * epilogue.residualStride + v * lanes, count: count)
          }
          if epilogue.relu { y = y.replacing(with: zero, where: y .< zero) }
          storePartial(y, to: c + i * ldc + v * lanes, count: count)
        }
      }
    }
  }

  /// `store` for a tile that is entirely valid, straight from the registers:
  /// every loop has a constant trip count, so it unrolls and saves the spill,
  /// which on layers with a short reduction (K = 64) is a tenth of the tile's time.
  @inline(__always)
  static func storeFull<let MR: Int, let NR: Int>(
    _ acc: Accumulators<MR, NR>, to c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue
  ) {
    var biasVectors = InlineArray<NR, Vector>(repeating: Vector())
    if let bias = epilogue.bias {
      for v in 0..<NR { biasVectors[v] = UnsafeRawPointer(bias + v * lanes).loadUnaligned(as: Vector.self) }
    }
    let zero = Vector()
    for i in 0..<MR {
      for v in 0..<NR {
        var y = acc[i][v] + biasVectors[v]
        if let residual = epilogue.residual {
          y += UnsafeRawPointer(residual + i * epilogue.residualStride + v * lanes).loadUnaligned(as: Vector.self)
        }
        if epilogue.relu { y = y.replacing(with: zero, where: y .< zero) }
        UnsafeMutableRawPointer(c + i * ldc + v * lanes).storeBytes(of: y, as: Vector.self)
      }
    }
  }

  /// Copies the accumulators to memory, `[i][v]` at `tile[i·NR + v]`.
  ///
  /// The epilogue and partial loads index tiles with run-time bounds; doing
  /// that on a memory copy keeps every access to the accumulators themselves
  /// constant-indexed, so they stay in registers throughout the reduction loop.
  @inline(__always)
  static func spill<let MR: Int, let NR: Int>(_ acc: Accumulators<MR, NR>, to tile: UnsafeMutableBufferPointer<Vector>) {
    for i in 0..<MR {
      for v in 0..<NR { tile[i * NR + v] = acc[i][v] }
    }
  }

  /// The inverse of `spill`.
  @inline(__always)
  static func fill<let MR: Int, let NR: Int>(_ acc: inout Accumulators<MR, NR>, from tile: UnsafeMutableBufferPointer<Vector>) {
    for i in 0..<MR {
      for v in 0..<NR { acc[i][v] = tile[i * NR + v] }
    }
  }

  /// The first `count` floats at `p` (all lanes when `count ≥ lanes`), zero past them.
  @inline(__always)
  static func loadPartial(_ p: UnsafePointer<Float>, count: Int) -> Vector {
    if count >= lanes { return UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
    var v = Vector()
    for l in 0..<max(count, 0) { v[l] = p[l] }
    return v
  }

  /// Writes the first `count` lanes of `v` (all when `count ≥ lanes`).
  @inline(__always)
  static func storePartial(_ v: Vector, to p: UnsafeMutablePointer<Float>, count: Int) {
    if count >= lanes {
      UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
      return
    }
    for l in 0..<max(count, 0) { p[l] = v[l] }
  }
}
