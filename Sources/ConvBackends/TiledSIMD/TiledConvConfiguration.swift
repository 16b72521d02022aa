import ConvCore

/// The knobs of one tiled direct convolution, as the tuner sees them
/// (`BackendConfig` keys in brackets):
///
/// - `pixelTile` [`mr`]: output pixels in the register tile (rows of the outer product);
/// - `panelVectors` [`nr`]: 16-channel vectors in the register tile, i.e. an
///   output-channel panel of `16·nr` channels;
/// - `channelBlock` [`kc`]: input channels per reduction block, 0 for all of
///   them (then the kernel-column and channel loops fuse into one contiguous run);
/// - `split` [`split`]: how the work is cut into parallel tasks.
struct TiledConvConfiguration: Equatable, Sendable {
  /// How `run` cuts the output into tasks for the thread pool.
  enum Split: Int, Sendable, CaseIterable {
    /// Blocks of output pixels; every task computes all output channels of its
    /// pixels, so the input is read once and the weights once per task.
    case pixels = 0
    /// Groups of output-channel panels; every task reads all the input, the
    /// weights are read once. For layers with few pixels and many channels.
    case panels = 1
    /// Both: pixel blocks × panel groups, for more, smaller tasks.
    case both = 2
  }

  var pixelTile: Int
  var panelVectors: Int
  var channelBlock: Int
  var split: Split

  /// The register tiles that have compiled kernels: (pixels, vectors). Every
  /// one keeps its `mr·nr` accumulators plus `nr` weight vectors and a
  /// broadcast within the 32 AVX-512 registers. With more than about 10
  /// pixels the pixels' row pointers no longer fit the 16 general-purpose
  /// registers and are reloaded every step, so 12×2 and 16×1 measure slower
  /// than 6×2 and 8×1 here; they stay as candidates for other machines.
  static let registerTiles: [(pixels: Int, vectors: Int)] = [(6, 2), (8, 2), (4, 2), (12, 2), (8, 1), (16, 1)]

  static let keys = ["mr", "nr", "kc", "split"]

  /// Output channels per panel.
  var panelWidth: Int { panelVectors * OuterProductMicrokernel.lanes }

  /// Input channels per reduction block for a layer with `inChannels`.
  func channelBlock(for inChannels: Int) -> Int {
    channelBlock == 0 ? inChannels : min(channelBlock, inChannels)
  }

  var backendConfig: BackendConfig {
    BackendConfig(["mr": pixelTile, "nr": panelVectors, "kc": channelBlock, "split": split.rawValue])
  }

  init(pixelTile: Int, panelVectors: Int, channelBlock: Int, split: Split) {
    self.pixelTile = pixelTile
    self.panelVectors = panelVectors
    self.channelBlock = channelBlock
    self.split = split
  }

  /// Reads `config`; missing keys take the values of `defaultFor(problem)`.
  init(_ config: BackendConfig, problem: ConvProblem) throws {
    self = Self.defaultFor(problem)
    for key in config.parameters.keys where !Self.keys.contains(key) {
      throw BackendError("tiled-simd has no knob '\(key)' (in '\(config)'); knobs: \(Self.keys.joined(separator: ", "))")
    }
    if let mr = config["mr"] { pixelTile = mr }
    if let nr = config["nr"] { panelVectors = nr }
    if let kc = config["kc"] { channelBlock = kc }
    if let raw = config["split"] {
      guard let split = Split(rawValue: raw) else {
        throw BackendError("tiled-simd: split=\(raw) is not one of 0 (pixels), 1 (panels), 2 (both)")
      }
      self.split = split
    }
    guard Self.registerTiles.contains(where: { $0 == (pixelTile, panelVectors) }) else {
      let tiles = Self.registerTiles.map { "mr=\($0.pixels),nr=\($0.vectors)" }.joined(separator: "; ")
      throw BackendError("tiled-simd has no register tile mr=\(pixelTile),nr=\(panelVectors); tiles: \(tiles)")
    }
    guard channelBlock >= 0 else { throw BackendError("tiled-simd: kc must be 0 (all channels) or positive, got \(channelBlock)") }
  }

  /// Input channels per reduction block of the blocked candidate: 128
  /// channels × 9 taps × 32 columns × 4 bytes = 144 KiB of weights per panel
  /// and block, which stay in L2 while every pixel tile of a task reuses them.
  ///
  /// The default does not block: at one 512-bit FMA per cycle a 6×32 tile
  /// needs 128 bytes of weights per 12 cycles, which L2 delivers, while
  /// blocking adds a load and store of the output per block; measured, 128-channel
  /// blocks are 5–15% slower on the 1×1 layers and equal on the 3×3 ones.
  static let blockedChannels = 128
  /// The register tile measured fastest on most ResNet-50 layers: 6 pixels ×
  /// 2 vectors (12 accumulators; 8 pixels is within 3% on most layers and
  /// slower on those with few pixels, 12 is slower on most).
  static let defaultPixelTile = 6
  /// The tile for layers of at most 16 output channels (one vector): 8 pixels
  /// keep 8 accumulators in flight, enough to cover the FMA latency.
  static let narrowPixelTile = 8
  /// The smaller tile for layers with fewer output pixels than `defaultPixelTile`
  /// (the classifier: 1 pixel), which would otherwise compute mostly unused rows.
  static let smallPixelTile = 4

  /// From this many output pixels on, splitting by pixels alone is best; below
  /// it, splitting both ways. Splitting by pixels makes every task read all
  /// the weights, splitting by panels every task read all the input. Measured
  /// with 2 threads (fastest of interleaved runs): the 56×56 layers (3,136
  /// pixels, small weights) are 1–2% faster with pixel blocks, the 28×28 and
  /// smaller ones up to 12% faster split both ways (7×7, 2,048 channels: 209
  /// against 188 GFLOP/s).
  static let manyPixels = 2048

  /// The configuration measured fastest on typical layers of this shape's kind.
  static func defaultFor(_ p: ConvProblem) -> TiledConvConfiguration {
    let pixels = p.batch * p.outHeight * p.outWidth
    let vectors = p.outChannels <= OuterProductMicrokernel.lanes ? 1 : 2
    let tile = vectors == 1 ? narrowPixelTile : (pixels < defaultPixelTile ? smallPixelTile : defaultPixelTile)
    return TiledConvConfiguration(
      pixelTile: tile, panelVectors: vectors, channelBlock: 0, split: pixels >= manyPixels ? .pixels : .both)
  }

  /// A handful of candidates for the tuner, the default first: the other
  /// register tiles of its width, the other splits, and blocked channels for
  /// wide layers.
  static func candidates(for p: ConvProblem) -> [TiledConvConfiguration] {
    let base = defaultFor(p)
    var out = [base]
    func add(_ c: TiledConvConfiguration) { if !out.contains(c) { out.append(c) } }
    for tile in registerTiles where tile.vectors == base.panelVectors && tile.pixels != base.pixelTile {
      var c = base
      c.pixelTile = tile.pixels
      add(c)
    }
    for split in Split.allCases where split != base.split {
      var c = base
      c.split = split
      add(c)
    }
    if p.inChannels > blockedChannels {
      var blocked = base
      blocked.channelBlock = blockedChannels
      add(blocked)
    }
    return out
  }
}
