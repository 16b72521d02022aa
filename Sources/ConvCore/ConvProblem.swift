/// One 2-D convolution: shapes only, no data.
///
/// The general convolution of oneDNN's benchdnn: groups, dilation and
/// asymmetric padding. Activations are NHWC, weights OIHW as checkpoints store
/// them, `[outChannels][inChannels / groups][kernelHeight][kernelWidth]`; with
/// groups, the channels of group `g` are the contiguous runs
/// `g·inChannels/groups ..< (g+1)·inChannels/groups` of every input pixel (and
/// likewise for the output), so one group is an ordinary convolution on a
/// channel slice. The textual form is benchdnn's descriptor, e.g.
/// `mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1`, so shapes can be pasted between
/// this tool and benchdnn.
public struct ConvProblem: Hashable, Codable, Sendable, CustomStringConvertible {
  /// Images per batch (benchdnn `mb`).
  public var batch: Int
  /// Groups (benchdnn `g`): `inChannels` and `outChannels` are multiples of it.
  public var groups: Int
  public var inChannels: Int
  public var inHeight: Int
  public var inWidth: Int
  public var outChannels: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var strideHeight: Int
  public var strideWidth: Int
  /// Dilation in benchdnn's convention: 0 is none, `d` leaves `d` pixels between taps.
  public var dilationHeight: Int
  public var dilationWidth: Int
  /// Zero padding above and left of the image (benchdnn `ph`, `pw`).
  public var padTop: Int
  public var padLeft: Int
  /// Zero padding below and right of the image. Equal to `padTop`/`padLeft`
  /// unless the shape was given an explicit output size that implies more or
  /// less (benchdnn: `(oh − 1)·sh − ih + (kh − 1)·(dh + 1) + 1 − ph`); may be
  /// negative, when the stride skips the last input rows.
  public var padBottom: Int
  public var padRight: Int
  /// Optional label (benchdnn `n"name"`); not part of the shape's identity.
  public var name: String?

  public init(
    batch: Int = 1, groups: Int = 1, inChannels: Int, inHeight: Int, inWidth: Int? = nil,
    outChannels: Int, kernelHeight: Int, kernelWidth: Int? = nil,
    strideHeight: Int = 1, strideWidth: Int? = nil,
    dilationHeight: Int = 0, dilationWidth: Int? = nil,
    padHeight: Int = 0, padWidth: Int? = nil, padBottom: Int? = nil, padRight: Int? = nil,
    name: String? = nil
  ) {
    self.batch = batch
    self.groups = groups
    self.inChannels = inChannels
    self.inHeight = inHeight
    self.inWidth = inWidth ?? inHeight
    self.outChannels = outChannels
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth ?? kernelHeight
    self.strideHeight = strideHeight
    self.strideWidth = strideWidth ?? strideHeight
    self.dilationHeight = dilationHeight
    self.dilationWidth = dilationWidth ?? dilationHeight
    self.padTop = padHeight
    self.padLeft = padWidth ?? padHeight
    self.padBottom = padBottom ?? padHeight
    self.padRight = padRight ?? (padWidth ?? padHeight)
    self.name = name
  }

  /// Rows and columns the dilated kernel spans: `(k − 1)·(d + 1) + 1`.
  public var kernelExtentHeight: Int { (kernelHeight - 1) * (dilationHeight + 1) + 1 }
  public var kernelExtentWidth: Int { (kernelWidth - 1) * (dilationWidth + 1) + 1 }

  /// Floor division, so that a padded input smaller than the kernel gives no output row.
  private static func outputs(_ size: Int, _ before: Int, _ after: Int, _ extent: Int, _ stride: Int) -> Int {
    let span = size + before + after - extent
    return span < 0 ? 0 : span / stride + 1
  }

  public var outHeight: Int { Self.outputs(inHeight, padTop, padBottom, kernelExtentHeight, strideHeight) }
  public var outWidth: Int { Self.outputs(inWidth, padLeft, padRight, kernelExtentWidth, strideWidth) }

  /// Zero rows below the image that some output actually reads, and columns
  /// right of it: the padding a kernel must materialise (never negative).
  public var readPadBottom: Int { max(0, (outHeight - 1) * strideHeight + kernelExtentHeight - padTop - inHeight) }
  public var readPadRight: Int { max(0, (outWidth - 1) * strideWidth + kernelExtentWidth - padLeft - inWidth) }

  /// True when the output size is not the one symmetric padding gives.
  public var hasAsymmetricPadding: Bool {
    outHeight != Self.outputs(inHeight, padTop, padTop, kernelExtentHeight, strideHeight)
      || outWidth != Self.outputs(inWidth, padLeft, padLeft, kernelExtentWidth, strideWidth)
  }

  public var isDilated: Bool { dilationHeight != 0 || dilationWidth != 0 }

  /// Input and output channels of one group.
  public var groupInChannels: Int { inChannels / max(groups, 1) }
  public var groupOutChannels: Int { outChannels / max(groups, 1) }

  /// Multiply-accumulates of the direct algorithm.
  public var macs: Int {
    batch * outHeight * outWidth * outChannels * groupInChannels * kernelHeight * kernelWidth
  }
  /// 2 · MACs: the FLOP count every backend's GFLOP/s is computed from,
  /// whatever algorithm it uses (so Winograd's "effective" rate may exceed peak).
  public var flops: Int { 2 * macs }

  /// The reduction length of one output element, K = (C / groups)·R·S.
  public var reductionLength: Int { groupInChannels * kernelHeight * kernelWidth }

  public var inputCount: Int { batch * inHeight * inWidth * inChannels }
  public var outputCount: Int { batch * outHeight * outWidth * outChannels }
  public var weightCount: Int { outChannels * groupInChannels * kernelHeight * kernelWidth }

  /// True for a 1×1, stride-1, unpadded, ungrouped convolution: in NHWC this is a plain GEMM.
  public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
      && padTop == 0 && padLeft == 0 && readPadBottom == 0 && readPadRight == 0 && groups == 1
  }

  /// Largest value of any one field, and of any tensor's element count
  /// (2³² floats, 16 GiB): beyond these a shape is refused, not allocated.
  public static let maxDimension = 1 << 20
  public static let maxElements = 1 << 32

  /// Why the shape cannot be computed, or nil when it is valid.
  public var invalidReason: String? {
    if batch < 1 { return "mb must be at least 1 (got \(batch))" }
    if groups < 1 { return "g must be at least 1 (got \(groups))" }
    if inChannels < 1 { return "ic must be at least 1 (got \(inChannels))" }
    if outChannels < 1 { return "oc must be at least 1 (got \(outChannels))" }
    if inHeight < 1 || inWidth < 1 { return "ih and iw must be at least 1 (got \(inHeight)x\(inWidth))" }
    if kernelHeight < 1 || kernelWidth < 1 { return "kh and kw must be at least 1 (got \(kernelHeight)x\(kernelWidth))" }
    if strideHeight < 1 || strideWidth < 1 { return "sh and sw must be at least 1 (got \(strideHeight)x\(strideWidth))" }
    if dilationHeight < 0 || dilationWidth < 0 { return "dh and dw must not be negative (0 means no dilation)" }
    if padTop < 0 || padLeft < 0 { return "ph and pw must not be negative" }
    let fields = [batch, groups, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth,
                  strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft, padBottom, padRight]
    if let big = fields.first(where: { $0 > Self.maxDimension || $0 < -Self.maxDimension }) {
      return "a dimension of \(big) exceeds the supported \(Self.maxDimension)"
    }
    if inChannels % groups != 0 || outChannels % groups != 0 {
      return "ic\(inChannels) and oc\(outChannels) must both be multiples of g\(groups)"
    }
    if outHeight < 1 || outWidth < 1 {
      return "the kernel \(kernelExtentHeight)x\(kernelExtentWidth)\(isDilated ? " (dilated)" : "") does not fit the padded input"
    }
    for (what, factors) in [("input", [batch, inHeight, inWidth, inChannels]),
                            ("output", [batch, outHeight, outWidth, outChannels]),
                            ("weight", [outChannels, groupInChannels, kernelHeight, kernelWidth])] {
      guard let size = tensorSize(shape: factors, elementSize: 1), size.count <= Self.maxElements else {
        return "the \(what) tensor would hold more than \(Self.maxElements) values"
      }
    }
    return nil
  }

  // Identity ignores the label, and padding below/right that no output reads:
  // two shapes that compute the same thing are one tuning problem.
  public static func == (a: ConvProblem, b: ConvProblem) -> Bool { a.shapeKey == b.shapeKey }
  public func hash(into hasher: inout Hasher) { hasher.combine(shapeKey) }
  private var shapeKey: [Int] {
    [batch, groups, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth,
     strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft, outHeight, outWidth]
  }

  /// The same problem with another batch size.
  public func withBatch(_ n: Int) -> ConvProblem { var p = self; p.batch = n; return p }

  /// The canonical benchdnn descriptor, without the name: every spatial field
  /// explicit (so a plan's keys do not depend on which defaults a reader
  /// assumes), `g` only with groups, `dh`/`dw` only when dilated, and `oh`/`ow`
  /// only when the padding is asymmetric.
  public var descriptor: String {
    var text = "mb\(batch)"
    if groups != 1 { text += "g\(groups)" }
    text += "ic\(inChannels)ih\(inHeight)iw\(inWidth)oc\(outChannels)"
    if hasAsymmetricPadding { text += "oh\(outHeight)ow\(outWidth)" }
    text += "kh\(kernelHeight)kw\(kernelWidth)sh\(strideHeight)sw\(strideWidth)ph\(padTop)pw\(padLeft)"
    if isDilated { text += "dh\(dilationHeight)dw\(dilationWidth)" }
    return text
  }

  /// The descriptor with the name appended as benchdnn writes it (`n"layer1.0.conv2"`).
  public var description: String {
    guard let name else { return descriptor }
    return descriptor + "n\"\(name)\""
  }
}

/// The number of elements and bytes a tensor of `shape` needs, or nil when a
/// dimension is negative or either count does not fit in an Int. Shapes from
/// descriptors and file headers are untrusted: a shape such as [2^62] must be
/// refused, not wrap to a small byte count.
public func tensorSize(shape: [Int], elementSize: Int) -> (count: Int, bytes: Int)? {
  var count = 1
  for d in shape {
    guard d >= 0 else { return nil }
    let (m, overflow) = count.multipliedReportingOverflow(by: d)
    if overflow { return nil }
    count = m
  }
  let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
  return overflow ? nil : (count, bytes)
}
