import ConvCore

/// An NHWC copy of the input with its zero border made explicit:
/// [batch][inHeight + 2·padHeight][inWidth + 2·padWidth][pixelStride], channels
/// `0..<inChannels` of each pixel used.
///
/// With the border in memory every tap of every output pixel reads valid
/// memory, so one kernel without edge cases serves the whole image. The copy
/// costs one pass over the input (for ResNet-50's padded layers, under 3% of the
/// convolution's time as measured), which is cheaper than the branches or
/// extra tile shapes that edge handling in the kernel would need.
///
/// The pixel stride is skewed by one cache line when the pixels a register
/// tile reads (`strideWidth · inChannels` floats apart) would otherwise fall
/// in the same few L1 sets: the L1 data cache has 64 sets of 64-byte lines, so
/// rows 4 KiB apart share one set and 2 KiB apart two, and eight such rows
/// plus the streaming weights overflow its 8 ways (measured: the 3×3 stride-2
/// layer with 512 channels ran at 65% of the speed of its neighbours).
struct ZeroPaddedInput {
  let height: Int
  let width: Int
  let channels: Int
  /// Floats from one pixel to the next: `channels`, or `channels + cacheLineFloats` when skewed.
  let pixelStride: Int
  let batch: Int
  let padHeight: Int
  let padWidth: Int

  /// Floats per 64-byte cache line.
  static let cacheLineFloats = 16
  /// Row distances (floats) that are multiples of this (2 KiB) map register-tile rows to at most two L1 sets.
  static let setAliasingFloats = 512

  init(problem p: ConvProblem) {
    height = p.inHeight + 2 * p.padHeight
    width = p.inWidth + 2 * p.padWidth
    channels = p.inChannels
    let aliased = (p.strideWidth * p.inChannels) % Self.setAliasingFloats == 0
    pixelStride = p.inChannels + (aliased ? Self.cacheLineFloats : 0)
    batch = p.batch
    padHeight = p.padHeight
    padWidth = p.padWidth
  }

  /// Floats of the copy.
  var count: Int { batch * height * width * pixelStride }

  /// Writes the padded copy of `input` (NHWC, unpadded) to `destination`, rows spread over `pool`.
  func copy(_ input: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let rowFloats = width * pixelStride
    let inWidth = width - 2 * padWidth, inHeight = height - 2 * padHeight
    let border = padWidth * pixelStride, interior = inWidth * pixelStride
    let (channels, pixelStride) = (self.channels, self.pixelStride)
    pool.parallelFor(batch * height) { row in
      let n = row / height, y = row % height
      let out = destination + row * rowFloats
      let iy = y - padHeight
      guard iy >= 0 && iy < inHeight else {
        out.update(repeating: 0, count: rowFloats)
        return
      }
      out.update(repeating: 0, count: border)
      let source = input + (n * inHeight + iy) * inWidth * channels
      if pixelStride == channels {
        (out + border).update(from: source, count: interior)
      } else {
        for x in 0..<inWidth {
          (out + border + x * pixelStride).update(from: source + x * channels, count: channels)
        }
      }
      (out + border + interior).update(repeating: 0, count: border)
    }
  }
}
