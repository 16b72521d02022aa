import ConvCore

/// The knobs of one tiled direct convolution, as the tuner sees them
/// (`BackendConfig` keys in brackets):
///
/// - the register tile, an entry of `KernelTable`: `pixelTile` [`mr`] output
///   pixels (rows of the outer product) × `panelVectors` [`nr`] vectors of
///   `lanes` [`v`] floats, i.e. an output-channel panel of `nr·v` channels;
/// - `channelBlock` [`kc`]: input channels per reduction block, 0 for all of
///   them (then the kernel-column and channel loops fuse into one contiguous run);
/// - `split` [`split`]: how the work is cut into parallel tasks;
/// - `tileMajor` [`order`]: 0 (the default) runs a panel over all the task's
///   register tiles before the next panel, 1 all panels over one register
///   tile before the next (with one channel block; see `TiledConvolutionJob.run`).
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
  var lanes: Int
  var channelBlock: Int
  var split: Split
  var tileMajor = false

  static let keys = ["mr", "nr", "v", "kc", "split", "order"]

  /// Output channels per panel.
  var panelWidth: Int { panelVectors * lanes }

  /// The compiled kernel for this tile (validated in `init`).
  var tile: RegisterTile? { KernelTable.tile(rows: pixelTile, vectors: panelVectors, lanes: lanes) }

  /// Input channels per reduction block for a group of `inChannels`.
  func channelBlock(for inChannels: Int) -> Int {
    channelBlock == 0 ? inChannels : min(channelBlock, inChannels)
  }

  /// `order` appears only when it is 1, so the configurations (and plans)
  /// written before the knob existed keep their names.
  var backendConfig: BackendConfig {
    var values = ["mr": pixelTile, "nr": panelVectors, "v": lanes, "kc": channelBlock, "split": split.rawValue]
    if tileMajor { values["order"] = 1 }
    return BackendConfig(values)
  }

  init(pixelTile: Int, panelVectors: Int, lanes: Int, channelBlock: Int, split: Split) {
    self.pixelTile = pixelTile
    self.panelVectors = panelVectors
    self.lanes = lanes
    self.channelBlock = channelBlock
    self.split = split
  }

  /// Reads `config`; missing keys take the values of `defaultFor(problem, machine)`.
  init(_ config: BackendConfig, problem: ConvProblem, machine: MachineModel) throws {
    self = Self.defaultFor(problem, machine: machine)
    for key in config.parameters.keys where !Self.keys.contains(key) {
      throw BackendError("tiled-simd has no knob '\(key)' (in '\(config)'); knobs: \(Self.keys.joined(separator: ", "))")
    }
    if let v = config["v"] { lanes = v }
    if let mr = config["mr"] { pixelTile = mr }
    if let nr = config["nr"] { panelVectors = nr }
    if let kc = config["kc"] { channelBlock = kc }
    if let raw = config["split"] {
      guard let split = Split(rawValue: raw) else {
        throw BackendError("tiled-simd: split=\(raw) is not one of 0 (pixels), 1 (panels), 2 (both)")
      }
      self.split = split
    }
    if let order = config["order"] {
      guard order == 0 || order == 1 else {
        throw BackendError("tiled-simd: order=\(order) is not one of 0 (panel-major), 1 (tile-major)")
      }
      tileMajor = order == 1
    }
    guard tile != nil else {
      throw BackendError("tiled-simd has no register tile mr=\(pixelTile),nr=\(panelVectors),v=\(lanes); tiles: \(KernelTable.listing)")
    }
    guard channelBlock >= 0 else { throw BackendError("tiled-simd: kc must be 0 (all channels) or positive, got \(channelBlock)") }
  }

  /// Vectors per panel of the default tile when a group has at least that
  /// many vectors of output channels: a 4 × 4-vector tile (16 accumulators)
  /// loads 8 vectors (4 of weights, 4 broadcasts) per 16 FMAs where 6 × 2
  /// loads 8 per 12, and reads each input row once per 64 channels instead
  /// of 32. Measured in the Keras ResNet-50 at 1 thread (A/B gate, 16
  /// pairs): the stem 0.78×, the network 0.93× on tiled-simd and 0.94× on
  /// winograd (whose 1×1 layers run on this default). Five rows (20
  /// accumulators) were not kept in registers by the compiler and ran 3–4×
  /// slower. With AVX2's 16 registers no 4-vector tile is native, and the
  /// default stays at two vectors.
  static let wideVectors = 4

  /// Input channels per reduction block of the blocked candidate: 128
  /// channels × 9 taps × 32 columns × 4 bytes = 144 KiB of weights per panel
  /// and block, which stay in L2 while every pixel tile of a task reuses them.
  ///
  /// The default does not block: at one vector FMA per cycle a 6 × 2 tile
  /// needs one panel row of weights per 12 FMAs (a 4 × 4 one per 16), which L2 delivers, while
  /// blocking adds a load and store of the output per block; measured, 128-channel
  /// blocks are 5–15% slower on the 1×1 layers and equal on the 3×3 ones.
  static let blockedChannels = 128

  /// The second blocked candidate, for the deep 1×1 layers: at 1024–2048
  /// input channels the input of a pixel block (49–196 pixels) with all its
  /// channels and a panel of weights outgrow half of one core's L2, so the
  /// schedule cuts the pixels into more blocks, each re-reading every weight
  /// from DRAM; 512-channel blocks keep one pixel block. Measured in the
  /// Keras ResNet-50 at 2 threads, side by side with the plan (kc=0): 1024 →
  /// 2048 channels at stride 2, 1.57 against 1.77 ms per layer, the other
  /// deep layers unchanged; 256-channel blocks were no faster.
  static let wideBlockedChannels = 512

  /// The split that reads the fewest bytes from memory: every pixel block
  /// reads all the weights of its panels, every panel group all the input of
  /// its pixels, so a cut into `b` blocks × `g` groups reads about
  /// `b·weights + g·input` (the counts `TiledConvSchedule` would make on all
  /// of `machine`'s cores). Inside a network the weights come from DRAM, so
  /// on the late layers (14×14 and 7×7 pixels, 1–9 MB of weights against
  /// 0.1–0.2 MB of input) cutting by panels alone reads the weights once
  /// where four pixel blocks read them four times: the 7×7 × 512 3×3 layer
  /// with cold weights on one thread, 4.0 against 6.0 ms. The 56×56 layers
  /// (small weights, large input) come out split by pixels and the 28×28 ones
  /// both ways, which is what interleaved runs measured fastest there.
  /// Only cuts that give every core a task compete when there is one: the
  /// classifier's single pixel cut by pixels is one task, which left the
  /// second thread idle for the whole layer (its busy share was 50%).
  static func leastTrafficSplit(_ p: ConvProblem, _ config: TiledConvConfiguration, machine: MachineModel) -> Split {
    let panels = ConvWeightPanels.panels(of: p, width: config.panelWidth).total
    let weightBytes = p.weightCount * MemoryLayout<Float>.stride
    let inputBytes = p.inputCount * MemoryLayout<Float>.stride
    let threads = max(machine.cores, 1)
    let cuts = [Split.pixels, .both, .panels].map { split -> (split: Split, tasks: Int, traffic: Int) in
      var c = config
      c.split = split
      let s = TiledConvSchedule(problem: p, config: c, panels: panels, threads: threads, machine: machine)
      return (split, s.taskCount, s.pixelBlocks * weightBytes + s.panelGroups * inputBytes)
    }
    let occupying = cuts.filter { $0.tasks >= threads }
    return (occupying.isEmpty ? cuts : occupying).min { $0.traffic < $1.traffic }?.split ?? .both
  }

  /// The configuration measured fastest on typical layers of this shape's
  /// kind, with the machine's native vector width: `wideVectors` vectors of
  /// output channels per panel when a group has that many and the machine
  /// has a native tile that wide, one when it has at most one vector of
  /// them, two otherwise; the table's default rows for that, and fewer rows when the layer has
  /// fewer output pixels than that (the classifier: 1 pixel); the split that
  /// reads the fewest bytes (`leastTrafficSplit`).
  static func defaultFor(_ p: ConvProblem, machine: MachineModel) -> TiledConvConfiguration {
    let lanes = KernelTable.nativeLanes(on: machine)
    let pixels = p.batch * p.outHeight * p.outWidth
    let vectors: Int
    if p.groupOutChannels <= lanes {
      vectors = 1
    } else if p.groupOutChannels >= Self.wideVectors * lanes, KernelTable.preferred(vectors: Self.wideVectors, on: machine) != nil {
      vectors = Self.wideVectors
    } else {
      vectors = 2
    }
    var tile = KernelTable.preferred(vectors: vectors, on: machine)
    if let t = tile, pixels < t.rows { tile = KernelTable.preferred(vectors: vectors, maxRows: max(pixels, 4), on: machine) ?? t }
    var config = TiledConvConfiguration(
      pixelTile: tile?.rows ?? 4, panelVectors: tile?.vectors ?? vectors, lanes: tile?.lanes ?? lanes,
      channelBlock: 0, split: .both)
    config.split = leastTrafficSplit(p, config, machine: machine)
    return config
  }

  /// A handful of candidates for the tuner, the default first: the other
  /// native register tiles whose panels are no wider than the default's
  /// allows usefully, the other splits, and blocked channels for wide groups.
  static func candidates(for p: ConvProblem, machine: MachineModel) -> [TiledConvConfiguration] {
    let base = defaultFor(p, machine: machine)
    var out = [base]
    func add(_ c: TiledConvConfiguration) { if !out.contains(c) { out.append(c) } }
    for tile in KernelTable.native(on: machine) where tile.vectors == base.panelVectors || (base.panelVectors > 1 && tile.vectors > 1) {
      var c = base
      (c.pixelTile, c.panelVectors) = (tile.rows, tile.vectors)
      add(c)
    }
    for split in Split.allCases where split != base.split {
      var c = base
      c.split = split
      add(c)
    }
    var tileMajor = base
    tileMajor.tileMajor = true
    add(tileMajor)
    for channels in [blockedChannels, wideBlockedChannels] where p.groupInChannels > channels {
      var blocked = base
      blocked.channelBlock = channels
      add(blocked)
    }
    return out
  }
}
