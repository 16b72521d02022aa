import ConvCore

/// An NHWC copy of the input with its zero border made explicit:
/// [batch][padTop + inHeight + padBottom][padLeft + inWidth + padRight][pixelStride],
/// channels `0..<inChannels` of each pixel used, where the bottom and right
/// borders are only as deep as some output reads (`ConvProblem.readPadBottom`).
///
/// With the border in memory every tap of every output pixel reads valid
/// memory, so one kernel without edge cases serves the whole image. The copy
/// costs one pass over the input (for ResNet-50's padded layers, under 3% of the
/// convolution's time as measured), which is cheaper than the branches or
/// extra tile shapes that edge handling in the kernel would need.
///
/// The pixel stride is skewed by one cache line when the pixels a register
/// tile reads (`strideWidth · inChannels` floats apart) would otherwise fall
/// in the same few L1 sets: addresses one L1 way apart (sets × line bytes,
/// 4 KiB on the machines measured) share a set and half that apart two, and
/// eight such rows plus the streaming weights overflow the ways (measured: the
/// 3×3 stride-2 layer with 512 channels ran at 65% of the speed of its
/// neighbours).
struct ZeroPaddedInput {
  let height: Int
  let width: Int
  let channels: Int
  /// Floats from one pixel to the next: `channels`, or `channels` plus one cache line when skewed.
  let pixelStride: Int
  let batch: Int
  let padTop: Int
  let padLeft: Int
  /// Image rows and columns copied (the rows past what any output reads are dropped).
  let copiedRows: Int
  let copiedColumns: Int

  init(problem p: ConvProblem, machine: MachineModel) {
    let lineFloats = max(1, machine.cacheLineBytes / MemoryLayout<Float>.stride)
    // Row distances that are multiples of half an L1 way map a tile's rows to at most two sets.
    let aliasingFloats = max(lineFloats, machine.l1AliasingBytes / 2 / MemoryLayout<Float>.stride)
    copiedRows = max(0, min(p.inHeight, (p.outHeight - 1) * p.strideHeight + p.kernelExtentHeight - p.padTop))
    copiedColumns = max(0, min(p.inWidth, (p.outWidth - 1) * p.strideWidth + p.kernelExtentWidth - p.padLeft))
    height = p.padTop + copiedRows + p.readPadBottom
    width = p.padLeft + copiedColumns + p.readPadRight
    channels = p.inChannels
    let aliased = (p.strideWidth * p.inChannels) % aliasingFloats == 0
    pixelStride = p.inChannels + (aliased ? lineFloats : 0)
    batch = p.batch
    padTop = p.padTop
    padLeft = p.padLeft
    inputHeight = p.inHeight
    inputWidth = p.inWidth
  }

  let inputHeight: Int
  let inputWidth: Int

  /// Floats of the copy.
  var count: Int { batch * height * width * pixelStride }

  /// Writes the padded copy of `input` (NHWC, unpadded) to `destination`, rows spread over `pool`.
  func copy(_ input: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    pool.parallelFor(batch * height, PaddedRows(geometry: self, input: input, destination: destination))
  }
}

/// One padded row per task: zeros above and below the image, each image row
/// between a left and a right border of zeros.
private struct PaddedRows: ParallelTask {
  let geometry: ZeroPaddedInput
  let input: UnsafePointer<Float>
  let destination: UnsafeMutablePointer<Float>

  func run(_ row: Int) {
    let g = geometry
    let rowFloats = g.width * g.pixelStride
    let left = g.padLeft * g.pixelStride, interior = g.copiedColumns * g.pixelStride
    let n = row / g.height, y = row % g.height
    let out = destination + row * rowFloats
    let iy = y - g.padTop
    guard iy >= 0 && iy < g.copiedRows else {
      out.update(repeating: 0, count: rowFloats)
      return
    }
    out.update(repeating: 0, count: left)
    let source = input + (n * g.inputHeight + iy) * g.inputWidth * g.channels
    if g.pixelStride == g.channels {
      (out + left).update(from: source, count: interior)
    } else {
      for x in 0..<g.copiedColumns {
        (out + left + x * g.pixelStride).update(from: source + x * g.channels, count: g.channels)
      }
    }
    (out + left + interior).update(repeating: 0, count: rowFloats - left - interior)
  }
}
