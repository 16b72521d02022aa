import ConvCore

/// Convolution weights packed into output-channel panels in exactly the order
/// the tiled kernel reads them.
///
/// Layout: each group's output channels are cut into panels of `width`
/// channels (the last zero-padded), panel `P` of group `P / panelsPerGroup`;
/// within a panel, channel blocks `[c0, c0+kc)` of the group's input channels
/// one after another; within a block `[kh][kw][c − c0][width]`. Panel `P`,
/// block starting at `c0` begins at `P·R·S·C_g·width + c0·R·S·width` floats.
/// When one block holds all channels this is `[kh][kw][c][width]`, and for a
/// fixed `kh` the `(kw, c)` steps are contiguous like the NHWC input row they
/// multiply.
struct ConvWeightPanels: Sendable {
  /// Output channels per panel.
  let width: Int
  let panelsPerGroup: Int
  let panelCount: Int
  /// Floats per panel (R·S·C_g·width).
  let panelStride: Int
  /// Floats per input channel of a block (R·S·width): a block starting at `c0` begins `c0·channelStride` into its panel.
  let channelStride: Int
  let storage: AlignedBuffer
  /// The bias, panel by panel, zero-padded to `panelCount·width`.
  let bias: AlignedBuffer

  /// Panels of `width` channels per group of `p` (the last zero-padded), and in all.
  static func panels(of p: ConvProblem, width: Int) -> (perGroup: Int, total: Int) {
    let perGroup = (p.groupOutChannels + width - 1) / width
    return (perGroup, p.groups * perGroup)
  }

  init(problem p: ConvProblem, weights: ConvWeights, width: Int, channelBlock kc: Int) {
    let (c, r, s) = (p.groupInChannels, p.kernelHeight, p.kernelWidth)
    let groupOut = p.groupOutChannels
    self.width = width
    (panelsPerGroup, panelCount) = Self.panels(of: p, width: width)
    channelStride = r * s * width
    panelStride = c * channelStride
    storage = AlignedBuffer(count: panelCount * panelStride)
    bias = AlignedBuffer(count: panelCount * width)
    let packed = storage.pointer
    let (panelsPerGroup, panelStride, channelStride) = (self.panelsPerGroup, self.panelStride, self.channelStride)
    weights.weights.withUnsafeBufferPointer { oihw in
      for oc in 0..<p.outChannels {
        let g = oc / groupOut, local = oc % groupOut
        let panel = g * panelsPerGroup + local / width, lane = local % width
        bias.pointer[panel * width + lane] = weights.bias[oc]
        var c0 = 0
        while c0 < c {
          let block = min(kc, c - c0)
          let blockStart = panel * panelStride + c0 * channelStride
          for ic in c0..<(c0 + block) {
            for kh in 0..<r {
              for kw in 0..<s {
                let step = (kh * s + kw) * block + (ic - c0)
                packed[blockStart + step * width + lane] = oihw[((oc * c + ic) * r + kh) * s + kw]
              }
            }
          }
          c0 += block
        }
      }
    }
  }

  /// Panel `p`'s group, and its first output channel within that group.
  @inline(__always)
  func position(of p: Int) -> (group: Int, firstChannel: Int) {
    let group = p / panelsPerGroup
    return (group, (p - group * panelsPerGroup) * width)
  }

  /// The first weight of panel `p`'s block starting at input channel `c0`.
  func block(panel p: Int, firstChannel c0: Int) -> UnsafePointer<Float> {
    UnsafePointer(storage.pointer + p * panelStride + c0 * channelStride)
  }
}
