import ConvCore

/// A tiled direct convolution with its weights packed into panels.
///
/// The output (NHWC) is a matrix of `batch·outHeight·outWidth` pixel rows by
/// `outChannels` columns; every register tile is `mr` consecutive pixels ×
/// one panel of `16·nr` channels, accumulated by `OuterProductMicrokernel` over
/// the taps `(kh, kw)` and input channels, reading each pixel's input window in
/// place from the (zero-padded) NHWC input. The loop nest of one task is
///
///     for channel block c0 (kc channels):        input block stays in L2
///       for panel in the task's panels:          weights of (panel, block) stay in L1/L2
///         for register tile in the task's pixels: mr × 16·nr accumulators in registers
///
/// which is the GEMM loop order of Goto & van de Geijn 2008 with the
/// convolution's taps as extra reduction loops (the "direct" form of
/// Georganas et al. 2018, "Anatomy of high-performance deep learning
/// convolutions on SIMD architectures", with NHWC activations instead of
/// channel-blocked ones). The epilogue is applied from registers in the store
/// of the last channel block.
final class PreparedTiledConvolution: PreparedConvolution, @unchecked Sendable {
  let problem: ConvProblem
  let config: BackendConfig
  let knobs: TiledConvConfiguration
  private let weights: ConvWeightPanels
  private let padded: ZeroPaddedInput?
  /// Offset (floats) of each output pixel's first input element (tap (0, 0),
  /// channel 0) in the input the kernel reads (the padded copy when there is one).
  private let pixelOffsets: [Int]

  init(problem p: ConvProblem, weights w: ConvWeights, knobs: TiledConvConfiguration) {
    problem = p
    self.knobs = knobs
    config = knobs.backendConfig
    weights = ConvWeightPanels(problem: p, weights: w, width: knobs.panelWidth, channelBlock: knobs.channelBlock(for: p.inChannels))
    padded = p.padHeight > 0 || p.padWidth > 0 ? ZeroPaddedInput(problem: p) : nil
    let (height, width, pixelStride) = padded.map { ($0.height, $0.width, $0.pixelStride) } ?? (p.inHeight, p.inWidth, p.inChannels)
    var offsets: [Int] = []
    offsets.reserveCapacity(p.batch * p.outHeight * p.outWidth)
    for n in 0..<p.batch {
      for oy in 0..<p.outHeight {
        for ox in 0..<p.outWidth {
          offsets.append(((n * height + oy * p.strideHeight) * width + ox * p.strideWidth) * pixelStride)
        }
      }
    }
    pixelOffsets = offsets
  }

  var workspaceBytes: Int { (padded?.count ?? 0) * MemoryLayout<Float>.stride }

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
    let schedule = TiledConvSchedule(problem: problem, config: knobs, panels: weights.panelCount, threads: pool.threadCount)
    typealias V = OuterProductMicrokernel.Vector
    switch (knobs.pixelTile, knobs.panelVectors) {
    case (6, 2): compute(InlineArray<6, InlineArray<2, V>>.self, source, output, residual, relu, schedule, pool)
    case (8, 2): compute(InlineArray<8, InlineArray<2, V>>.self, source, output, residual, relu, schedule, pool)
    case (4, 2): compute(InlineArray<4, InlineArray<2, V>>.self, source, output, residual, relu, schedule, pool)
    case (12, 2): compute(InlineArray<12, InlineArray<2, V>>.self, source, output, residual, relu, schedule, pool)
    case (16, 1): compute(InlineArray<16, InlineArray<1, V>>.self, source, output, residual, relu, schedule, pool)
    case (8, 1): compute(InlineArray<8, InlineArray<1, V>>.self, source, output, residual, relu, schedule, pool)
    default: preconditionFailure("tiled-simd: register tile mr=\(knobs.pixelTile),nr=\(knobs.panelVectors) passed validation but has no kernel")
    }
  }

  /// Every task of `schedule`, with an `MR × NR` register tile.
  private func compute<let MR: Int, let NR: Int>(
    _ tile: OuterProductMicrokernel.Accumulators<MR, NR>.Type,
    _ source: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
    _ residual: UnsafePointer<Float>?, _ relu: Bool, _ schedule: TiledConvSchedule, _ pool: ThreadPool
  ) {
    let p = problem
    let (outChannels, inChannels) = (p.outChannels, p.inChannels)
    let pixels = pixelOffsets.count
    let width = weights.width
    let kc = knobs.channelBlock(for: inChannels)
    let pixelStride = padded?.pixelStride ?? inChannels
    let rowFloats = (padded?.width ?? p.inWidth) * pixelStride
    // With one channel block and unskewed pixels the kw and c loops fuse: for
    // a fixed kh the window row is S·C contiguous floats, as are its packed weights.
    let fused = kc == inChannels && pixelStride == inChannels
    let tapColumns = fused ? 1 : p.kernelWidth
    let weights = self.weights
    let bias = UnsafePointer(weights.bias.pointer)
    pixelOffsets.withUnsafeBufferPointer { offsets in
      pool.parallelFor(schedule.taskCount) { t in
        let (tiles, panels) = schedule.task(t)
        let firstPixel = tiles.lowerBound * MR, endPixel = min(pixels, tiles.upperBound * MR)
        var c0 = 0
        while c0 < inChannels {
          let block = min(kc, inChannels - c0)
          let firstBlock = c0 == 0, lastBlock = c0 + block == inChannels
          let run = fused ? p.kernelWidth * inChannels : block
          for panel in panels {
            let j0 = panel * width
            let columns = min(width, outChannels - j0)
            let panelWeights = weights.block(panel: panel, firstChannel: c0)
            var q = firstPixel
            while q < endPixel {
              let extent = OuterProductMicrokernel.TileExtent(rows: min(MR, endPixel - q), columns: columns)
              let out = output + q * outChannels + j0
              var acc: OuterProductMicrokernel.Accumulators<MR, NR> = OuterProductMicrokernel.zero()
              if !firstBlock { OuterProductMicrokernel.load(&acc, from: out, ldc: outChannels, extent: extent) }
              // Rows past the last pixel repeat it: valid memory, never stored.
              let rows = InlineArray<MR, UnsafePointer<Float>> { i in
                source + offsets[q + min(i, extent.rows - 1)] + c0
              }
              OuterProductMicrokernel.accumulate(
                &acc, rows: rows, tapRows: p.kernelHeight, tapRowStride: rowFloats,
                tapColumns: tapColumns, tapColumnStride: pixelStride, run: run,
                weights: panelWeights, weightStride: width)
              let epilogue = lastBlock
                ? OuterProductMicrokernel.Epilogue(
                  bias: bias + j0, residual: residual.map { $0 + q * outChannels + j0 },
                  residualStride: outChannels, relu: relu)
                : .none
              OuterProductMicrokernel.store(acc, to: out, ldc: outChannels, extent: extent, epilogue: epilogue)
              q += MR
            }
          }
          c0 += block
        }
      }
    }
  }
}
