import _CacheShims

/// The register-blocked inner kernel of every GEMM-like loop here (the tiled
/// direct convolution and the packed GEMM behind Winograd's products): it
/// keeps an `MR × (NR·V)` tile of outputs in vector registers and adds one
/// rank-1 update (an outer product) per reduction step.
///
/// Each step loads `NR` vectors of `V.scalarCount` consecutive packed weights
/// (output channels / GEMM columns), broadcasts one value of each of the `MR`
/// rows (output pixels / GEMM rows) and issues `MR·NR` fused multiply-adds.
/// This is the microkernel of Goto & van de Geijn 2008, "Anatomy of
/// high-performance matrix multiplication", §5, with the roles of the operands
/// chosen for an NHWC activation: rows are read in place with a broadcast, so
/// only the weights need packing. `MR·NR` independent accumulators must cover
/// the FMA latency times the FMA throughput (Low et al. 2016, "Analytical
/// modeling is enough for high-performance BLIS", §3), and with the `NR`
/// weight vectors and the broadcast they must fit the vector registers
/// (`RegisterTile.registersNeeded`): 32 with AVX-512, 16 with AVX2.
///
/// `MR`, `NR` and the vector type `V` are generic so every entry of
/// `KernelTable` compiles to straight code with its accumulators in
/// registers (an `InlineArray` indexed only by constants after unrolling is
/// promoted to registers).
enum OuterProductMicrokernel {
  /// `MR` rows of `NR` vectors.
  typealias Accumulators<let MR: Int, let NR: Int, V: KernelVector> = InlineArray<MR, InlineArray<NR, V>> where V.Scalar == Float

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
  static func zero<let MR: Int, let NR: Int, V: KernelVector>() -> Accumulators<MR, NR, V> where V.Scalar == Float {
    Accumulators<MR, NR, V>(repeating: InlineArray<NR, V>(repeating: V()))
  }

  /// Loads the valid part of a tile of `c` (row `i` at `c + i·ldc`); the rest is zero.
  @inline(__always)
  static func load<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: inout Accumulators<MR, NR, V>, from c: UnsafePointer<Float>, ldc: Int, extent: TileExtent
  ) where V.Scalar == Float {
    let lanes = V.scalarCount
    withUnsafeTemporaryAllocation(of: V.self, capacity: MR * NR) { tile in
      for i in 0..<MR {
        for v in 0..<NR {
          tile[i * NR + v] = i < extent.rows
            ? VectorMemory.load(c + i * ldc + v * lanes, count: extent.columns - v * lanes) : V()
        }
      }
      fill(&acc, from: tile)
    }
  }

  /// A run of memory the kernel prefetches while it computes: the weights a
  /// later tile will read first, while this tile's weights are reused from cache.
  ///
  /// In a whole network every layer's weights arrive from DRAM (ResNet-50's
  /// 100 MB do not fit any cache), and the first register tile of a panel
  /// reads its weights faster than one core streams them (a 6 × 16 tile eats
  /// 64 bytes per 6 cycles, about 30 GB/s; one core here streams about
  /// 10 GB/s). The later tiles of the panel reuse the weights from cache and
  /// leave the memory bus idle. Prefetching the next panel's weights during
  /// those tiles, one cache line every `interval` steps, spreads the stream
  /// over the whole panel instead.
  struct PrefetchStream {
    /// Reduction steps between two prefetched lines (`accumulate` writes
    /// these four steps out).
    static let interval = 4
    static let lineBytes = 64
    /// Most lines `advance` requests at once.
    static let maximumLinesPerAdvance = 4
    private(set) var next: UnsafeRawPointer
    let end: UnsafeRawPointer
    /// Byte offsets from `next` of the second to fourth line `advance`
    /// requests (repeats of an earlier line when it requests fewer), and how
    /// far it moves.
    private let second: Int, third: Int, fourth: Int
    private let stride: Int

    /// The `count` floats from `start`, one line per `advance`.
    init(_ start: UnsafePointer<Float>, count: Int) {
      self.init(start, count: count, linesPerAdvance: 1)
    }

    /// The `count` floats from `start`, paced to be covered in `steps`
    /// reduction steps (`steps / interval` calls of `advance`): one to four
    /// lines per call. A panel reused by many register tiles needs one line
    /// every four steps; the products of a Winograd layer at 14×14 or 7×7
    /// have 16–49 rows, two to seven tiles, and at one line per call only a
    /// quarter to a half of the next panel arrived before it was read.
    init(_ start: UnsafePointer<Float>, count: Int, steps: Int) {
      let lines = (max(count, 0) * MemoryLayout<Float>.stride + Self.lineBytes - 1) / Self.lineBytes
      let calls = max(steps / Self.interval, 1)
      self.init(start, count: count, linesPerAdvance: min(max((lines + calls - 1) / calls, 1), Self.maximumLinesPerAdvance))
    }

    private init(_ start: UnsafePointer<Float>, count: Int, linesPerAdvance n: Int) {
      next = UnsafeRawPointer(start)
      end = next + max(count, 0) * MemoryLayout<Float>.stride
      second = min(1, n - 1) * Self.lineBytes
      third = min(2, n - 1) * Self.lineBytes
      fourth = min(3, n - 1) * Self.lineBytes
      stride = n * Self.lineBytes
    }

    /// A stream with nothing left to prefetch (it re-requests one line, which costs nothing).
    static func none(_ at: UnsafePointer<Float>) -> PrefetchStream { PrefetchStream(at, count: 0) }

    /// Requests the next lines into L2; stays on the last once the run is
    /// covered. A stream of more than one line per call makes four requests,
    /// some of them repeats, so its calls do not branch on the count; a
    /// stream of one line per call makes one (the branch is the same for
    /// every call of a stream: three extra requests every four steps measured
    /// 1.11× on a 64-channel 1×1 layer, whose tiles are short).
    @inline(__always)
    mutating func advance() {
      resnet_bench_prefetch(next)
      if stride > Self.lineBytes {
        resnet_bench_prefetch(min(next + second, end))
        resnet_bench_prefetch(min(next + third, end))
        resnet_bench_prefetch(min(next + fourth, end))
      }
      next = min(next + stride, end)
    }

    /// Requests the next line into L1.
    @inline(__always)
    mutating func advanceToL1() {
      resnet_bench_prefetch_l1(next)
      next = min(next + Self.lineBytes, end)
    }
  }

  /// Adds `Σ_taps Σ_{j<run} row[i][tapOffset + j] · weights[step][0..<NR·lanes]` to the tile.
  ///
  /// The reduction is a 2-D set of taps (kernel rows × kernel columns of a
  /// convolution; a single tap for a GEMM), each a contiguous run of `run`
  /// values of every row, at offset `tr·tapRowStride + tc·tapColumnStride`.
  /// Weights are read strictly in order, `weightStride` floats per step: the
  /// packing puts them exactly where this loop reads them. Every
  /// `PrefetchStream.interval` steps one line of `prefetch` is requested into
  /// L2 and two of `upcoming` (the next tile's rows, which then arrive in L1
  /// while this tile computes) into L1.
  @inline(__always)
  static func accumulate<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: inout Accumulators<MR, NR, V>, rows: InlineArray<MR, UnsafePointer<Float>>,
    tapRows: Int, tapRowStride: Int, tapColumns: Int, tapColumnStride: Int, run: Int,
    weights: UnsafePointer<Float>, weightStride: Int, prefetch: inout PrefetchStream, upcoming: inout PrefetchStream
  ) where V.Scalar == Float {
    let interval = PrefetchStream.interval
    let (w1, w2, w3) = (weightStride, 2 * weightStride, 3 * weightStride)
    var w = weights
    for tr in 0..<tapRows {
      for tc in 0..<tapColumns {
        let offset = tr * tapRowStride + tc * tapColumnStride
        let tapRows = InlineArray<MR, UnsafePointer<Float>> { rows[$0] + offset }
        var j = 0
        while j + interval <= run {
          prefetch.advance()
          upcoming.advanceToL1()
          upcoming.advanceToL1()
          // Written out: the compiler keeps a loop of `interval` otherwise.
          step(&acc, rows: tapRows, at: j, weights: w)
          step(&acc, rows: tapRows, at: j + 1, weights: w + w1)
          step(&acc, rows: tapRows, at: j + 2, weights: w + w2)
          step(&acc, rows: tapRows, at: j + 3, weights: w + w3)
          w += 4 * weightStride
          j += interval
        }
        while j < run {
          step(&acc, rows: tapRows, at: j, weights: w)
          w += weightStride
          j += 1
        }
      }
    }
  }

  /// One rank-1 update: `acc[i] += rows[i][j] · weights[0..<NR·lanes]`.
  @inline(__always)
  static func step<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: inout Accumulators<MR, NR, V>, rows: InlineArray<MR, UnsafePointer<Float>>, at j: Int,
    weights w: UnsafePointer<Float>
  ) where V.Scalar == Float {
    let lanes = V.scalarCount
    let b = InlineArray<NR, V> { UnsafeRawPointer(w + $0 * lanes).loadUnaligned(as: V.self) }
    for i in 0..<MR {
      let a = V(repeating: rows[i][j])
      for v in 0..<NR { acc[i][v] = acc[i][v].addingProduct(a, b[v]) }
    }
  }

  /// Stores the valid part of the tile to `c` (row `i` at `c + i·ldc`), applying `epilogue`.
  @inline(__always)
  static func store<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: Accumulators<MR, NR, V>, to c: UnsafeMutablePointer<Float>, ldc: Int, extent: TileExtent, epilogue: Epilogue
  ) where V.Scalar == Float {
    if extent.rows == MR && extent.columns >= NR * V.scalarCount {
      storeFull(acc, to: c, ldc: ldc, epilogue: epilogue)
    } else {
      storePartial(acc, to: c, ldc: ldc, extent: extent, epilogue: epilogue)
    }
  }

  /// `store` for a tile cut by the output's edge: through memory, with
  /// run-time bounds. Out of line, so that `store` stays small enough to be
  /// inlined into the kernel loops (with this body inside it was not, and
  /// every full tile's accumulators went through the stack to a call).
  @inline(never)
  static func storePartial<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: Accumulators<MR, NR, V>, to c: UnsafeMutablePointer<Float>, ldc: Int, extent: TileExtent, epilogue: Epilogue
  ) where V.Scalar == Float {
    let lanes = V.scalarCount
    withUnsafeTemporaryAllocation(of: V.self, capacity: MR * NR) { tile in
      spill(acc, to: tile)
      var biasVectors = InlineArray<NR, V>(repeating: V())
      if let bias = epilogue.bias {
        for v in 0..<NR { biasVectors[v] = VectorMemory.load(bias + v * lanes, count: extent.columns - v * lanes) }
      }
      for i in 0..<extent.rows {
        for v in 0..<NR {
          let count = extent.columns - v * lanes
          if count <= 0 { break }
          var y = tile[i * NR + v] + biasVectors[v]
          if let residual = epilogue.residual {
            y += VectorMemory.load(residual + i * epilogue.residualStride + v * lanes, count: count)
          }
          if epilogue.relu { y = y.clampedAtZero() }
          VectorMemory.store(y, c + i * ldc + v * lanes, count: count)
        }
      }
    }
  }

  /// `store` for a tile that is entirely valid, straight from the registers:
  /// every loop has a constant trip count, so it unrolls and saves the spill,
  /// which on layers with a short reduction (K = 64) is a tenth of the tile's time.
  @inline(__always)
  static func storeFull<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: Accumulators<MR, NR, V>, to c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue
  ) where V.Scalar == Float {
    let lanes = V.scalarCount
    var biasVectors = InlineArray<NR, V>(repeating: V())
    if let bias = epilogue.bias {
      for v in 0..<NR { biasVectors[v] = VectorMemory.load(bias + v * lanes) }
    }
    for i in 0..<MR {
      for v in 0..<NR {
        var y = acc[i][v] + biasVectors[v]
        if let residual = epilogue.residual {
          y += VectorMemory.load(residual + i * epilogue.residualStride + v * lanes)
        }
        if epilogue.relu { y = y.clampedAtZero() }
        VectorMemory.store(y, c + i * ldc + v * lanes)
      }
    }
  }

  /// Copies the accumulators to memory, `[i][v]` at `tile[i·NR + v]`.
  ///
  /// The epilogue and partial loads index tiles with run-time bounds; doing
  /// that on a memory copy keeps every access to the accumulators themselves
  /// constant-indexed, so they stay in registers throughout the reduction loop.
  @inline(__always)
  static func spill<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: Accumulators<MR, NR, V>, to tile: UnsafeMutableBufferPointer<V>
  ) where V.Scalar == Float {
    for i in 0..<MR {
      for v in 0..<NR { tile[i * NR + v] = acc[i][v] }
    }
  }

  /// The inverse of `spill`.
  @inline(__always)
  static func fill<let MR: Int, let NR: Int, V: KernelVector>(
    _ acc: inout Accumulators<MR, NR, V>, from tile: UnsafeMutableBufferPointer<V>
  ) where V.Scalar == Float {
    for i in 0..<MR {
      for v in 0..<NR { acc[i][v] = tile[i * NR + v] }
    }
  }
}
