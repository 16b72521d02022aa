/// One 2-D convolution: shapes only, no data.
///
/// Activations are NHWC, weights OIHW (as stored in checkpoints); dilation is 1
/// and groups is 1. The textual form is oneDNN benchdnn's convolution
/// descriptor, e.g. `mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1`, so shapes can be
/// pasted between this tool and benchdnn.
public struct ConvProblem: Hashable, Codable, Sendable, CustomStringConvertible {
  /// Images per batch (benchdnn `mb`).
  public var batch: Int
  public var inChannels: Int
  public var inHeight: Int
  public var inWidth: Int
  public var outChannels: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var strideHeight: Int
  public var strideWidth: Int
  /// Zero padding on each side (top and bottom share `padHeight`).
  public var padHeight: Int
  public var padWidth: Int
  /// Optional label (benchdnn `n"name"`); not part of the shape's identity.
  public var name: String?

  public init(
    batch: Int = 1, inChannels: Int, inHeight: Int, inWidth: Int? = nil,
    outChannels: Int, kernelHeight: Int, kernelWidth: Int? = nil,
    strideHeight: Int = 1, strideWidth: Int? = nil,
    padHeight: Int = 0, padWidth: Int? = nil, name: String? = nil
  ) {
    self.batch = batch
    self.inChannels = inChannels
    self.inHeight = inHeight
    self.inWidth = inWidth ?? inHeight
    self.outChannels = outChannels
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth ?? kernelHeight
    self.strideHeight = strideHeight
    self.strideWidth = strideWidth ?? strideHeight
    self.padHeight = padHeight
    self.padWidth = padWidth ?? padHeight
    self.name = name
  }

  public var outHeight: Int { (inHeight + 2 * padHeight - kernelHeight) / strideHeight + 1 }
  public var outWidth: Int { (inWidth + 2 * padWidth - kernelWidth) / strideWidth + 1 }

  /// Multiply-accumulates of the direct algorithm.
  public var macs: Int {
    batch * outHeight * outWidth * outChannels * inChannels * kernelHeight * kernelWidth
  }
  /// 2 · MACs: the FLOP count every backend's GFLOP/s is computed from,
  /// whatever algorithm it uses (so Winograd's "effective" rate may exceed peak).
  public var flops: Int { 2 * macs }

  /// The reduction length of one output element, K = C·R·S.
  public var reductionLength: Int { inChannels * kernelHeight * kernelWidth }

  public var inputCount: Int { batch * inHeight * inWidth * inChannels }
  public var outputCount: Int { batch * outHeight * outWidth * outChannels }
  public var weightCount: Int { outChannels * inChannels * kernelHeight * kernelWidth }

  /// True for a 1×1, stride-1, unpadded convolution: in NHWC this is a plain GEMM.
  public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
      && padHeight == 0 && padWidth == 0
  }

  /// Largest value of any one field, and of any tensor's element count
  /// (2³² floats, 16 GiB): beyond these a shape is refused, not allocated.
  public static let maxDimension = 1 << 20
  public static let maxElements = 1 << 32

  /// Why the shape cannot be computed, or nil when it is valid.
  public var invalidReason: String? {
    if batch < 1 { return "mb must be at least 1 (got \(batch))" }
    if inChannels < 1 { return "ic must be at least 1 (got \(inChannels))" }
    if outChannels < 1 { return "oc must be at least 1 (got \(outChannels))" }
    if inHeight < 1 || inWidth < 1 { return "ih and iw must be at least 1 (got \(inHeight)x\(inWidth))" }
    if kernelHeight < 1 || kernelWidth < 1 { return "kh and kw must be at least 1 (got \(kernelHeight)x\(kernelWidth))" }
    if strideHeight < 1 || strideWidth < 1 { return "sh and sw must be at least 1 (got \(strideHeight)x\(strideWidth))" }
    if padHeight < 0 || padWidth < 0 { return "ph and pw must not be negative" }
    if padHeight >= kernelHeight || padWidth >= kernelWidth {
      return "padding \(padHeight)x\(padWidth) must be smaller than the kernel \(kernelHeight)x\(kernelWidth)"
    }
    let fields = [batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth,
                  strideHeight, strideWidth, padHeight, padWidth]
    if let big = fields.first(where: { $0 > Self.maxDimension }) {
      return "a dimension of \(big) exceeds the supported \(Self.maxDimension)"
    }
    if inHeight + 2 * padHeight < kernelHeight || inWidth + 2 * padWidth < kernelWidth {
      return "the kernel \(kernelHeight)x\(kernelWidth) does not fit the padded input"
    }
    for (what, factors) in [("input", [batch, inHeight, inWidth, inChannels]),
                            ("output", [batch, outHeight, outWidth, outChannels]),
                            ("weight", [outChannels, inChannels, kernelHeight, kernelWidth])] {
      guard let size = tensorSize(shape: factors, elementSize: 1), size.count <= Self.maxElements else {
        return "the \(what) tensor would hold more than \(Self.maxElements) values"
      }
    }
    return nil
  }

  // Identity ignores the label: two layers with the same shape are one tuning problem.
  public static func == (a: ConvProblem, b: ConvProblem) -> Bool { a.shapeKey == b.shapeKey }
  public func hash(into hasher: inout Hasher) { hasher.combine(shapeKey) }
  private var shapeKey: [Int] {
    [batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth,
     strideHeight, strideWidth, padHeight, padWidth]
  }

  /// The same problem with another batch size.
  public func withBatch(_ n: Int) -> ConvProblem { var p = self; p.batch = n; return p }

  /// The canonical benchdnn descriptor, every field explicit, without the name.
  public var descriptor: String {
    "mb\(batch)ic\(inChannels)ih\(inHeight)iw\(inWidth)oc\(outChannels)"
      + "kh\(kernelHeight)kw\(kernelWidth)sh\(strideHeight)sw\(strideWidth)ph\(padHeight)pw\(padWidth)"
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
