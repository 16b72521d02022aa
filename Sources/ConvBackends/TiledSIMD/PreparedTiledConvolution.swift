import ConvCore
import _CacheShims

/// A tiled direct convolution with its weights packed into panels.
///
/// The output (NHWC) is a matrix of `batch·outHeight·outWidth` pixel rows by
/// `outChannels` columns; every register tile is `mr` consecutive pixels ×
/// one panel of `nr·v` channels of one group, accumulated by
/// `OuterProductMicrokernel` over the taps `(kh, kw)` and the group's input
/// channels, reading each pixel's input window in place from the (zero-padded)
/// NHWC input. The loop nest of one task is
///
///     for channel block c0 (kc channels):        input block stays in L2
///       for panel in the task's panels:          weights of (panel, block) stay in L1/L2
///         for register tile in the task's pixels: mr × nr·v accumulators in registers
///
/// which is the GEMM loop order of Goto & van de Geijn 2008 with the
/// convolution's taps as extra reduction loops (the "direct" form of
/// Georganas et al. 2018, "Anatomy of high-performance deep learning
/// convolutions on SIMD architectures", with NHWC activations instead of
/// channel-blocked ones). The epilogue is applied from registers in the store
/// of the last channel block. Dilation only changes the distance between taps;
/// a group only offsets the input channels a panel reads.
final class PreparedTiledConvolution: PreparedConvolution, @unchecked Sendable {
  let problem: ConvProblem
  let config: BackendConfig
  let knobs: TiledConvConfiguration
  private let tile: RegisterTile
  private let machine: MachineModel
  private let weights: ConvWeightPanels
  private let padded: ZeroPaddedInput?
  /// Offset (floats) of each output pixel's first input element (tap (0, 0),
  /// channel 0) in the input the kernel reads (the padded copy when there is one).
  private let pixelOffsets: AlignedIntegers

  init(problem p: ConvProblem, weights w: ConvWeights, knobs: TiledConvConfiguration, tile: RegisterTile, machine: MachineModel) {
    problem = p
    self.knobs = knobs
    self.tile = tile
    self.machine = machine
    config = knobs.backendConfig
    weights = ConvWeightPanels(problem: p, weights: w, width: knobs.panelWidth,
                               channelBlock: knobs.channelBlock(for: p.groupInChannels))
    let needsBorder = p.padTop > 0 || p.padLeft > 0 || p.readPadBottom > 0 || p.readPadRight > 0
    padded = needsBorder ? ZeroPaddedInput(problem: p, machine: machine) : nil
    let (height, width, pixelStride) = padded.map { ($0.height, $0.width, $0.pixelStride) } ?? (p.inHeight, p.inWidth, p.inChannels)
    let offsets = AlignedIntegers(count: p.batch * p.outHeight * p.outWidth)
    var i = 0
    for n in 0..<p.batch {
      for oy in 0..<p.outHeight {
        for ox in 0..<p.outWidth {
          offsets.pointer[i] = ((n * height + oy * p.strideHeight) * width + ox * p.strideWidth) * pixelStride
          i += 1
        }
      }
    }
    pixelOffsets = offsets
  }

  var workspaceBytes: Int { (padded?.count ?? 0) * MemoryLayout<Float>.stride }
  var packedWeightBytes: Int { (weights.storage.count + weights.bias.count) * MemoryLayout<Float>.stride }
  var packedWeightBuffers: [AlignedBuffer] { [weights.storage, weights.bias] }
  /// With one channel block each tile reads its residual and stores its
  /// output in the same `store`, element for element; with several, the
  /// partial sums of the first blocks would overwrite the residual.
  var residualInPlace: Bool { knobs.channelBlock(for: problem.groupInChannels) >= problem.groupInChannels }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    var source = input
    if let padded {
      let copy = workspace.bindMemory(to: Float.self, capacity: padded.count)
      padded.copy(input, to: copy, pool: pool)
      source = UnsafePointer(copy)
    }
    let p = problem
    let pixelStride = padded?.pixelStride ?? p.inChannels
    let rowFloats = (padded?.width ?? p.inWidth) * pixelStride
    let kc = knobs.channelBlock(for: p.groupInChannels)
    // With one channel block, one group and unskewed, undilated pixels the kw
    // and c loops fuse: for a fixed kh the window row is S·C contiguous
    // floats, as are its packed weights.
    let fused = kc == p.groupInChannels && pixelStride == p.inChannels && p.groups == 1 && p.dilationWidth == 0
    let job = TiledConvolutionJob(
      source: source, output: output, residual: residual, relu: relu,
      pixelOffsets: UnsafePointer(pixelOffsets.pointer), pixels: pixelOffsets.count,
      outChannels: p.outChannels, groupInChannels: p.groupInChannels, groupOutChannels: p.groupOutChannels,
      channelBlock: kc, kernelHeight: p.kernelHeight, kernelWidth: p.kernelWidth,
      tapRowStride: (p.dilationHeight + 1) * rowFloats, tapColumnStride: (p.dilationWidth + 1) * pixelStride,
      fused: fused, tileMajor: knobs.tileMajor, upcomingRowsLimit: machine.l1DataBytes / 4 / MemoryLayout<Float>.stride,
      weights: weights,
      schedule: TiledConvSchedule(problem: p, config: knobs, panels: weights.panelCount, threads: pool.threadCount,
                                  machine: machine))
    pool.parallelFor(job.schedule.taskCount, TiledTasks(tile: tile, job: job))
  }
}

/// The tasks of one run: task `t` on the compiled loop of the register tile.
struct TiledTasks: ParallelTask {
  let tile: RegisterTile
  let job: TiledConvolutionJob
  func run(_ t: Int) { tile.convolve(job, t) }
}

/// Integers in a 64-byte-aligned block that outlives the arrays Swift would
/// otherwise copy-on-write: the per-pixel offsets the kernel loop reads.
final class AlignedIntegers: @unchecked Sendable {
  let count: Int
  let pointer: UnsafeMutablePointer<Int>
  init(count: Int) {
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }
  deinit { pointer.deallocate() }
}

/// Everything one run of a tiled direct convolution reads, for the register
/// tile's compiled task loop (`RegisterTile.convolve`).
struct TiledConvolutionJob: @unchecked Sendable {
  let source: UnsafePointer<Float>
  let output: UnsafeMutablePointer<Float>
  let residual: UnsafePointer<Float>?
  let relu: Bool
  let pixelOffsets: UnsafePointer<Int>
  let pixels: Int
  /// Floats per output pixel (the output's row stride).
  let outChannels: Int
  let groupInChannels: Int
  let groupOutChannels: Int
  let channelBlock: Int
  let kernelHeight: Int
  let kernelWidth: Int
  /// Floats between consecutive kernel rows and columns in the input read.
  let tapRowStride: Int
  let tapColumnStride: Int
  let fused: Bool
  /// Every panel for one register tile before the next tile (see `run`).
  let tileMajor: Bool
  /// Most floats of the next tile's rows to prefetch into L1 (a quarter of it).
  let upcomingRowsLimit: Int
  let weights: ConvWeightPanels
  let schedule: TiledConvSchedule

  /// Task `t` of `schedule` with an `MR × NR·V` register tile.
  ///
  /// Panel-major (the default) runs every register tile of the task's pixels
  /// for one panel before the next panel: the panel's weights stay in cache
  /// while the pixels stream past them. Tile-major (`tileMajor`, one channel
  /// block only) runs every panel for one register tile before the next
  /// tile: the tile's input rows stay in L1 while the task's weights stream
  /// past them from L2, and each output row is written whole, left to right.
  @inline(__always)
  static func run<let MR: Int, let NR: Int, V: KernelVector>(_: InlineArray<MR, InlineArray<NR, V>>.Type, _ job: TiledConvolutionJob, task t: Int)
  where V.Scalar == Float {
    let (tiles, panels) = job.schedule.task(t)
    let firstPixel = tiles.lowerBound * MR, endPixel = min(job.pixels, tiles.upperBound * MR)
    let groupIn = job.groupInChannels
    if job.tileMajor && job.channelBlock >= groupIn {
      tileMajorSweep(InlineArray<MR, InlineArray<NR, V>>.self, job, pixels: firstPixel..<endPixel, panels: panels)
      return
    }
    var c0 = 0
    while c0 < groupIn {
      let block = min(job.channelBlock, groupIn - c0)
      for panel in panels {
        // The next panel's block streams in while this one is reused by the
        // task's tiles, paced to arrive by the end of them. With one tile
        // (the classifier) nothing is reused and one line per call is kept:
        // paced, the classifier measured 1.13× (its weights stream from DRAM
        // at once anyway).
        let tiles = (endPixel - firstPixel + MR - 1) / MR
        let next = job.weights.block(panel: min(panel + 1, job.weights.panelCount - 1), firstChannel: c0)
        let floats = job.blockFloats(block: block)
        var prefetch = panel + 1 >= job.weights.panelCount ? .none(job.weights.block(panel: panel, firstChannel: c0))
          : tiles > 1 ? OuterProductMicrokernel.PrefetchStream(next, count: floats, steps: tiles * (floats / job.weights.width))
          : OuterProductMicrokernel.PrefetchStream(next, count: floats)
        sweep(InlineArray<MR, InlineArray<NR, V>>.self, job, PanelPass(job, panel: panel, c0: c0, block: block),
              pixels: firstPixel..<endPixel, prefetch: &prefetch)
      }
      c0 += block
    }
  }

  /// The tile-major loop of `run`: every panel of `panels` for one register
  /// tile of `pixels`, then the next tile. A function of its own, as `sweep`
  /// is, so the tile's code is compiled into this loop with its accumulators
  /// in registers (inlined into `run` it was not: the accumulators went
  /// through the stack and the loop ran 3.3× slower than panel-major).
  @inline(never)
  static func tileMajorSweep<let MR: Int, let NR: Int, V: KernelVector>(
    _: InlineArray<MR, InlineArray<NR, V>>.Type, _ job: TiledConvolutionJob, pixels: Range<Int>, panels: Range<Int>
  ) where V.Scalar == Float {
    let groupIn = job.groupInChannels
    var q = pixels.lowerBound
    while q < pixels.upperBound {
      for panel in panels {
        // The next panel's weights, or the first panel's for the next tile.
        let next = panel + 1 < panels.upperBound ? panel + 1 : panels.lowerBound
        var prefetch = OuterProductMicrokernel.PrefetchStream(
          job.weights.block(panel: next, firstChannel: 0), count: job.blockFloats(block: groupIn),
          steps: job.blockFloats(block: groupIn) / job.weights.width)
        let nextOutput = panel + 1 < panels.upperBound ? (q, panel + 1) : (q + MR, panels.lowerBound)
        tile(InlineArray<MR, InlineArray<NR, V>>.self, job, PanelPass(job, panel: panel, c0: 0, block: groupIn),
             pixel: q, endPixel: pixels.upperBound, nextOutput: (nextOutput.0, job.firstColumn(of: nextOutput.1)),
             prefetch: &prefetch)
      }
      q += MR
    }
  }

  /// Prefetches `floats` output floats (and the residual's, when `residual`
  /// and the residual is not the output itself) of each of `rows` pixels from `pixel` (clipped at `endPixel`), from
  /// output column `column`: one request per cache line.
  @inline(never)
  func prefetchOutput(rows: Int, floats: Int, pixel: Int, column: Int, endPixel: Int, residual withResidual: Bool) {
    let lineFloats = OuterProductMicrokernel.PrefetchStream.lineBytes / MemoryLayout<Float>.stride
    // A residual written over in place is the output, whose lines are requested already.
    let shortcut = withResidual ? residual.flatMap { UnsafePointer(output) == $0 ? nil : $0 } : nil
    for i in 0..<rows {
      let row = min(pixel + i, endPixel - 1) * outChannels + column
      var line = 0
      while line < floats {
        resnet_bench_prefetch_for_write(output + row + line)
        if let shortcut { resnet_bench_prefetch(shortcut + row + line) }
        line += lineFloats
      }
    }
  }

  /// Floats of one panel's block of `block` input channels.
  @inline(__always)
  func blockFloats(block: Int) -> Int { kernelHeight * kernelWidth * block * weights.width }

  /// The output column where panel `panel`'s channels start.
  @inline(__always)
  func firstColumn(of panel: Int) -> Int {
    let (group, local) = weights.position(of: panel)
    return group * groupOutChannels + local
  }

  /// What every register tile of one panel over one channel block shares:
  /// worked out once per panel so the per-tile code is the reduction and the
  /// store (on a 1×1 layer with 64 input channels a tile's reduction is only
  /// 64 steps, and the per-tile set-up was a visible part of its time).
  struct PanelPass {
    /// Output columns `firstColumn ..< firstColumn + columns` (the panel's valid channels).
    let firstColumn: Int
    let columns: Int
    /// Offset of the block's first input channel within a pixel's input.
    let channelOffset: Int
    let weights: UnsafePointer<Float>
    /// The panel's bias; nil unless this is the last channel block.
    let bias: UnsafePointer<Float>?
    let firstBlock: Bool
    let lastBlock: Bool
    /// Contiguous reduction steps per tap (kernel column × channels when fused).
    let run: Int

    @inline(__always)
    init(_ job: TiledConvolutionJob, panel: Int, c0: Int, block: Int) {
      let groupIn = job.groupInChannels
      let (group, local) = job.weights.position(of: panel)
      firstColumn = group * job.groupOutChannels + local
      columns = min(job.weights.width, job.groupOutChannels - local)
      channelOffset = group * groupIn + c0
      weights = job.weights.block(panel: panel, firstChannel: c0)
      firstBlock = c0 == 0
      lastBlock = c0 + block == groupIn
      bias = lastBlock ? UnsafePointer(job.weights.bias.pointer) + panel * job.weights.width : nil
      run = job.fused ? job.kernelWidth * groupIn : block
    }
  }

  /// Every register tile of `pixels` for the panel of `pass`, in order, in
  /// one loop: what the tiles share is worked out once per panel, and the
  /// tile's code is compiled into the loop rather than called per tile.
  @inline(never)
  static func sweep<let MR: Int, let NR: Int, V: KernelVector>(
    _: InlineArray<MR, InlineArray<NR, V>>.Type, _ job: TiledConvolutionJob, _ pass: PanelPass,
    pixels: Range<Int>, prefetch: inout OuterProductMicrokernel.PrefetchStream
  ) where V.Scalar == Float {
    var q = pixels.lowerBound
    while q < pixels.upperBound {
      let remaining = pixels.upperBound - q
      if remaining <= MR / 2 {
        // The last few pixels, at most half a tile, on one-row tiles rather
        // than one full tile computing rows that do not exist: a one-row tile
        // issues NR FMAs per step against MR·NR, with the same NR weight
        // loads, so on a 4 × 4 tile it takes about a third of the full
        // tile's time, not all of it. ResNet-50's 7×7 layers have 49 pixels:
        // 12 tiles of 4 and one pixel left.
        for r in q..<pixels.upperBound {
          tile(InlineArray<1, InlineArray<NR, V>>.self, job, pass, pixel: r, endPixel: pixels.upperBound,
               nextOutput: (r + 1, pass.firstColumn), prefetch: &prefetch)
        }
        return
      }
      tile(InlineArray<MR, InlineArray<NR, V>>.self, job, pass, pixel: q, endPixel: pixels.upperBound,
           nextOutput: (q + MR, pass.firstColumn), prefetch: &prefetch)
      q += MR
    }
  }

  /// One register tile: pixels `pixel ..< pixel + MR` (clipped at `endPixel`)
  /// × the panel of `pass`, over its channel block; the epilogue with the
  /// last block. `nextOutput` (first pixel, first output column) is the tile
  /// the loop runs next, whose output (and residual) lines are prefetched.
  @inline(__always)
  static func tile<let MR: Int, let NR: Int, V: KernelVector>(
    _: InlineArray<MR, InlineArray<NR, V>>.Type, _ job: TiledConvolutionJob, _ pass: PanelPass,
    pixel q: Int, endPixel: Int, nextOutput: (pixel: Int, column: Int), prefetch: inout OuterProductMicrokernel.PrefetchStream
  ) where V.Scalar == Float {
    // The next tile's output (and residual) lines arrive during this
    // tile's reduction rather than stalling its store: every line of each
    // row (a 4-vector tile's row is four lines; one per row was prefetched
    // when the tiles had two vectors). Out of line, and before any
    // accumulator is live: written into the tile, the loop made the compiler
    // keep the reduction out of line, its accumulators in memory (the 4 × 4
    // tiles ran 2.4× slower).
    job.prefetchOutput(rows: MR, floats: NR * V.scalarCount, pixel: nextOutput.pixel, column: nextOutput.column,
                       endPixel: endPixel, residual: pass.lastBlock)
    let outChannels = job.outChannels
    let extent = OuterProductMicrokernel.TileExtent(rows: min(MR, endPixel - q), columns: pass.columns)
    let out = job.output + q * outChannels + pass.firstColumn
    var acc: OuterProductMicrokernel.Accumulators<MR, NR, V> = OuterProductMicrokernel.zero()
    if !pass.firstBlock { OuterProductMicrokernel.load(&acc, from: out, ldc: outChannels, extent: extent) }
    // Rows past the last pixel repeat it: valid memory, never stored.
    let offsets = job.pixelOffsets
    let rows = InlineArray<MR, UnsafePointer<Float>> { i in
      job.source + offsets[q + min(i, extent.rows - 1)] + pass.channelOffset
    }
    // The next tile's input rows when they differ from this tile's: on a 1×1
    // layer the pixels' runs of channels, first to last, when they fit in a
    // quarter of L1 (more would evict what this tile still reads: measured,
    // 1024 and 2048 channels 7–9% slower, 256 channels 12–14% faster).
    var upcoming = OuterProductMicrokernel.PrefetchStream.none(rows[0])
    if nextOutput.pixel != q && job.kernelHeight == 1 && job.kernelWidth == 1 && nextOutput.pixel < job.pixels {
      let first = offsets[nextOutput.pixel], last = offsets[min(nextOutput.pixel + MR, job.pixels) - 1]
      if last - first + pass.run <= job.upcomingRowsLimit {
        upcoming = OuterProductMicrokernel.PrefetchStream(job.source + first + pass.channelOffset, count: last - first + pass.run)
      }
    }
    OuterProductMicrokernel.accumulate(
      &acc, rows: rows, tapRows: job.kernelHeight, tapRowStride: job.tapRowStride,
      tapColumns: job.fused ? 1 : job.kernelWidth, tapColumnStride: job.tapColumnStride, run: pass.run,
      weights: pass.weights, weightStride: job.weights.width, prefetch: &prefetch,
      upcoming: &upcoming)
    let epilogue = pass.lastBlock
      ? OuterProductMicrokernel.Epilogue(
        bias: pass.bias, residual: job.residual.map { $0 + q * outChannels + pass.firstColumn },
        residualStride: outChannels, relu: job.relu)
      : .none
    // The two stores called here rather than through `store`: on 16-float
    // vectors the compiler kept `store` out of line, and every tile's
    // accumulators went through the stack to the call.
    if extent.rows == MR && extent.columns >= NR * V.scalarCount {
      OuterProductMicrokernel.storeFull(acc, to: out, ldc: outChannels, epilogue: epilogue)
    } else {
      OuterProductMicrokernel.storePartial(acc, to: out, ldc: outChannels, extent: extent, epilogue: epilogue)
    }
  }
}
