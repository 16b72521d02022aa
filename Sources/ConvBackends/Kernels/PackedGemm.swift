import ConvCore

/// The right-hand matrix B (K×N) of `PackedGemm`, packed once for one register tile.
///
/// Layout: `⌈N / panelWidth⌉` panels, `panelWidth` = the tile's columns;
/// panel `p` holds columns `p·panelWidth ..< (p+1)·panelWidth` as K rows of
/// `panelWidth` contiguous floats (`[k][column]`), zero-padded past N, so the
/// microkernel reads one panel strictly sequentially. Panels are 64-byte aligned.
final class PackedGemmB: @unchecked Sendable {
  /// Rows (the reduction length) and columns of B.
  let k: Int, n: Int
  /// The register tile the panels are packed for.
  let tile: RegisterTile
  let panelWidth: Int
  let panelCount: Int
  /// Floats from one panel to the next (K·panelWidth).
  let panelStride: Int
  let storage: AlignedBuffer

  /// Packs `source`, row-major K×N with row stride `ldb` floats (`ldb ≥ n`).
  init(k: Int, n: Int, source: UnsafePointer<Float>, ldb: Int, tile: RegisterTile) {
    self.k = k
    self.n = n
    self.tile = tile
    panelWidth = tile.columns
    panelCount = (n + panelWidth - 1) / panelWidth
    panelStride = k * panelWidth
    storage = AlignedBuffer(count: panelCount * panelStride)
    for p in 0..<panelCount {
      let first = p * panelWidth, columns = min(panelWidth, n - first)
      let panel = storage.pointer + p * panelStride
      for row in 0..<k {
        (panel + row * panelWidth).update(from: source + row * ldb + first, count: columns)
      }
    }
  }

  /// The first float of panel `p`.
  func panel(_ p: Int) -> UnsafePointer<Float> { UnsafePointer(storage.pointer + p * panelStride) }
}

/// A single-threaded packed SGEMM with a fused epilogue on the outer-product
/// microkernel: C[i, j] = (accumulate ? C[i, j] : 0) + Σ_k A[i, k]·B[k, j],
/// then, with bias/residual/relu, C[i, j] = act(C[i, j] + bias[j] + residual[i·ldr + j]).
///
/// Blocking follows Goto & van de Geijn 2008, "Anatomy of high-performance
/// matrix multiplication": the reduction is cut into blocks of `reductionBlock`
/// so one kc × panel slice of B stays in L1 while every register-tile strip of
/// a `rowBlock`-row block of A reuses it, and that A block stays in L2 while
/// every B panel reuses it. C accumulates in memory between reduction blocks;
/// the epilogue is applied from registers in the last block's store.
///
/// Measured on one Zen 4 core (FMA peak 117 GFLOP/s) with the 8 × 32 tile:
/// 100–111 GFLOP/s for m×n×k from 3136×64×64 and 4×512×512 to 1024³.
enum PackedGemm {
  /// Reduction steps per block (kc): 256 steps × a 32-float panel × 4 bytes = 32 KiB of B.
  static let reductionBlock = 256
  /// Rows of A per block (mc): 128 × 256 floats × 4 bytes = 128 KiB, inside any L2 here.
  static let rowBlock = 128
  /// A strip of at most this many rows runs on a 4-row tile (Winograd
  /// products of small images have only a few rows), so it does not compute a full tile.
  static let shortRows = 4
  /// A strip of this many rows, below a taller main tile, runs on a 5-row tile.
  static let middleRows = 5

  /// Rows of the next strip when `remaining` rows are left: the rows are cut
  /// into ⌈remaining / mainRows⌉ strips as equal as possible, the taller
  /// strips first, so the short strips run on the 5- and 4-row tiles instead
  /// of one full tile computing rows that do not exist. A Winograd product of
  /// 25 tiles (F(3×3) on 14×14) is 5 strips of 5 rows instead of 4 × 6 and a
  /// 4-row tile for the last row (28 rows computed); 32 tiles are 6, 6, 5, 5, 5, 5.
  /// A height with no tile of its own (6 or 7 below an 8-row main tile)
  /// would run on the main tile, so then the strip is a full one as before.
  @inline(__always)
  static func stripRows(remaining: Int, mainRows: Int) -> Int {
    let strips = (remaining + mainRows - 1) / mainRows
    let rows = (remaining + strips - 1) / strips
    let hasTile = rows == mainRows || rows <= shortRows || (rows == middleRows && mainRows > middleRows)
    return hasTile ? rows : min(mainRows, remaining)
  }

  /// What one multiplication reads and writes; `b.n` columns, `m` rows.
  struct Operands {
    var m: Int
    var a: UnsafePointer<Float>
    var lda: Int
    var b: PackedGemmB
    var c: UnsafeMutablePointer<Float>
    var ldc: Int
    var accumulate: Bool
    /// `b.n` values, or nil.
    var bias: UnsafePointer<Float>?
    /// Row `i` at `residual + i·ldr`; must not overlap `c` (C holds partial sums until the last block).
    var residual: UnsafePointer<Float>?
    var ldr: Int
    var relu: Bool
    /// The product the caller runs next, if any: the first slice of its B
    /// streams in during this product's last panel, as each panel's
    /// successor does during that panel. Without it the Winograd products
    /// (one per transformed element, run back to back) began each on a
    /// panel read straight from DRAM.
    var following: PackedGemmB? = nil
  }

  /// Multiplies with the tile `b` was packed for.
  static func multiply(_ operands: Operands) {
    if operands.m <= 0 || operands.b.n <= 0 { return }
    if operands.b.k == 0 { return epilogueOnly(operands) }
    operands.b.tile.multiply(operands)
  }

  /// The blocked loops, for main tile `MR × NR·V`; strips of `middleRows`
  /// or at most `shortRows` rows (see `stripRows`) and a last panel of at most
  /// one vector of columns use the 5-row, 4-row and 1-vector variants of the same tile.
  @inline(__always)
  static func run<let MR: Int, let NR: Int, V: KernelVector>(_: InlineArray<MR, InlineArray<NR, V>>.Type, _ o: Operands)
  where V.Scalar == Float {
    let (n, k, width) = (o.b.n, o.b.k, o.b.panelWidth)
    var k0 = 0
    while k0 < k {
      let kc = min(reductionBlock, k - k0)
      let first = k0 == 0, last = k0 + kc == k
      var i0 = 0
      while i0 < o.m {
        let mc = min(rowBlock, o.m - i0)
        for p in 0..<o.b.panelCount {
          let j0 = p * width
          let columns = min(width, n - j0)
          let weights = o.b.panel(p) + k0 * width
          // The slice run next (the next panel's; after the last panel the
          // first panel's for the next row block or reduction block, or the
          // following product's) streams in while this one is reused by the
          // block's strips.
          let successor: (panel: UnsafePointer<Float>, floats: Int)? =
            p + 1 < o.b.panelCount ? (o.b.panel(p + 1) + k0 * width, kc * width)
            : i0 + mc < o.m ? (o.b.panel(0) + k0 * width, kc * width)
            : k0 + kc < k ? (o.b.panel(0) + (k0 + kc) * width, min(reductionBlock, k - k0 - kc) * width)
            : o.following.map { ($0.panel(0), min(reductionBlock, $0.k) * $0.panelWidth) }
          var prefetch = successor.map {
            OuterProductMicrokernel.PrefetchStream($0.panel, count: $0.floats, steps: (mc + MR - 1) / MR * kc)
          } ?? .none(weights)
          var i = i0
          while i < i0 + mc {
            let rows = stripRows(remaining: i0 + mc - i, mainRows: MR)
            let extent = OuterProductMicrokernel.TileExtent(rows: rows, columns: columns)
            let epilogue = last
              ? OuterProductMicrokernel.Epilogue(
                bias: o.bias.map { $0 + j0 }, residual: o.residual.map { $0 + i * o.ldr + j0 },
                residualStride: o.ldr, relu: o.relu)
              : .none
            let (aStrip, cStrip, loadC) = (o.a + i * o.lda + k0, o.c + i * o.ldc + j0, !first || o.accumulate)
            let middle = MR > middleRows && rows == middleRows
            switch (rows > shortRows, columns > V.scalarCount) {
            case (true, true) where middle:
              tile(InlineArray<5, InlineArray<NR, V>>.self, a: aStrip, lda: o.lda, kc: kc, weights: weights,
                   width: width, c: cStrip, ldc: o.ldc, extent: extent, loadC: loadC, epilogue: epilogue, prefetch: &prefetch)
            case (true, false) where middle:
              tile(InlineArray<5, InlineArray<1, V>>.self, a: aStrip, lda: o.lda, kc: kc, weights: weights,
                   width: width, c: cStrip, ldc: o.ldc, extent: extent, loadC: loadC, epilogue: epilogue, prefetch: &prefetch)
            case (true, true):
              tile(InlineArray<MR, InlineArray<NR, V>>.self, a: aStrip, lda: o.lda, kc: kc, weights: weights,
                   width: width, c: cStrip, ldc: o.ldc, extent: extent, loadC: loadC, epilogue: epilogue, prefetch: &prefetch)
            case (true, false):
              tile(InlineArray<MR, InlineArray<1, V>>.self, a: aStrip, lda: o.lda, kc: kc, weights: weights,
                   width: width, c: cStrip, ldc: o.ldc, extent: extent, loadC: loadC, epilogue: epilogue, prefetch: &prefetch)
            case (false, true):
              tile(InlineArray<4, InlineArray<NR, V>>.self, a: aStrip, lda: o.lda, kc: kc, weights: weights,
                   width: width, c: cStrip, ldc: o.ldc, extent: extent, loadC: loadC, epilogue: epilogue, prefetch: &prefetch)
            case (false, false):
              tile(InlineArray<4, InlineArray<1, V>>.self, a: aStrip, lda: o.lda, kc: kc, weights: weights,
                   width: width, c: cStrip, ldc: o.ldc, extent: extent, loadC: loadC, epilogue: epilogue, prefetch: &prefetch)
            }
            i += rows
          }
        }
        i0 += mc
      }
      k0 += kc
    }
  }

  /// One `TR × TV·lanes` tile of C over one reduction block. Rows past
  /// `extent.rows` re-read the last valid row of A (so they read only valid
  /// memory) and are never stored.
  @inline(__always)
  private static func tile<let TR: Int, let TV: Int, V: KernelVector>(
    _: InlineArray<TR, InlineArray<TV, V>>.Type,
    a: UnsafePointer<Float>, lda: Int, kc: Int, weights: UnsafePointer<Float>, width: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, extent: OuterProductMicrokernel.TileExtent,
    loadC: Bool, epilogue: OuterProductMicrokernel.Epilogue, prefetch: inout OuterProductMicrokernel.PrefetchStream
  ) where V.Scalar == Float {
    var acc: OuterProductMicrokernel.Accumulators<TR, TV, V> = OuterProductMicrokernel.zero()
    if loadC { OuterProductMicrokernel.load(&acc, from: c, ldc: ldc, extent: extent) }
    let rows = InlineArray<TR, UnsafePointer<Float>> { a + min($0, extent.rows - 1) * lda }
    // The next strip's rows of A (contiguous when lda = kc, as in the Winograd products).
    var upcoming = OuterProductMicrokernel.PrefetchStream(a + TR * lda, count: TR * lda)
    OuterProductMicrokernel.accumulate(
      &acc, rows: rows, tapRows: 1, tapRowStride: 0, tapColumns: 1, tapColumnStride: 0, run: kc,
      weights: weights, weightStride: width, prefetch: &prefetch, upcoming: &upcoming)
    OuterProductMicrokernel.store(acc, to: c, ldc: ldc, extent: extent, epilogue: epilogue)
  }

  /// The K = 0 case: C is its old value (or zero) plus the epilogue.
  private static func epilogueOnly(_ o: Operands) {
    for i in 0..<o.m {
      let row = o.c + i * o.ldc
      if !o.accumulate { row.update(repeating: 0, count: o.b.n) }
      for j in 0..<o.b.n {
        var y = row[j] + (o.bias?[j] ?? 0) + (o.residual?[i * o.ldr + j] ?? 0)
        if o.relu { y = max(y, 0) }
        row[j] = y
      }
    }
  }
}

extension PackedGemm {
  /// The main tile of the products on `machine`: 8 rows × 2 vectors with
  /// 16-float vectors (16 accumulators, half the AVX-512 registers, measured
  /// fastest for GEMMs of ResNet sizes on Zen 4), the table's preferred
  /// 2-vector tile otherwise (6 × 2 with AVX2's 16 registers).
  static func defaultTile(on machine: MachineModel) -> RegisterTile {
    if let wide = KernelTable.tile(rows: 8, vectors: 2, lanes: 16), wide.isNative(on: machine) { return wide }
    return KernelTable.preferred(vectors: 2, on: machine) ?? KernelTable.tiles[0]
  }
}
