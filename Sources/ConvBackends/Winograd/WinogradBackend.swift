import ConvCore

/// Winograd minimal filtering (Lavin & Gray, CVPR 2016) for 3×3 stride-1
/// convolutions: F(2×2, 3×3) or F(4×4, 3×3), NHWC, any padding on any side
/// (tiles read zero outside the image), groups (one product per group), any
/// channel counts, partial tiles at the right and bottom edges. Dilated
/// kernels are declined: their taps are not the adjacent pixels the
/// transforms interpolate over.
///
/// Configuration keys (missing ones take the values `defaultConfiguration`
/// picks for the given or preferred `m`):
/// - `m`: output tile side, 2 (α = 4, 16 products per tile), 3 (α = 5, 25) or 4 (α = 6, 36);
/// - `tiles`: tiles transformed and multiplied per block, 1–`maxBlockTiles`
///   (the rows of each product; multiples of the GEMM tile's rows fill it);
/// - `split`: 0 = threads take whole blocks, 1 = threads share each block's
///   phases (see `WinogradSplit`);
/// - `dims`: 2 (the default) for the above; 1 for F(2, 3) along rows only
///   (`PreparedRowWinograd`, groups = 1), whose products run on the tiled
///   direct kernel, with its register tile as `mr` and `nr`.
///
/// Scratch is sized for the machine's cores; a larger pool runs on that many
/// of its threads.
public struct WinogradBackend: ConvolutionBackend {
  /// Configuration keys.
  public static let outputTileKey = "m"
  public static let blockTilesKey = "tiles"
  public static let splitKey = "split"
  /// 2 (the default): F(m×m, 3×3); 1: F(2, 3) along rows only (`PreparedRowWinograd`).
  public static let dimensionsKey = "dims"
  /// Keys of the inner direct convolution of `dims=1`: its register tile's rows and vectors.
  static let rowTileKeys = ["mr", "nr"]
  /// Register-tile rows the tuner tries for `dims=1` besides the default: 4
  /// divides the 28 tiles of a 7×7 image (7 rows × 4 tiles of 2) exactly.
  static let rowCandidateTileRows = [4]
  /// The output tile sides implemented.
  public static var outputTiles: [Int] { WinogradAlgorithm.allCases.map(\.outputTile) }
  /// Largest accepted `tiles`: beyond it a block no longer fits any cache.
  public static let maxBlockTiles = 4096
  /// Fewest F(4×4) tiles for which F(4×4) is preferred (see `preferredOutputTile`).
  static let minimumLargeTiles = 8
  /// Block sizes the tuner tries besides the default.
  static let candidateBlockTiles = [8, 16, 32, 64]
  /// Block counts whose even split of a layer's tiles the tuner also tries.
  /// With a fixed size the last block can be tiny (49 tiles in blocks of 16
  /// leave one), yet it streams every transformed filter again, as a full
  /// block does. Measured on 128 channels at 28×28 (F(4×4), 49 tiles), 1 thread,
  /// cold weights, three alternations of `conv --config m=4,split=1,tiles=…`:
  /// 2 blocks of 25/24 tiles 0.684–0.697 ms, 4 of 16/16/16/1 0.715–0.749 ms.
  static let candidateBlockCounts = [2, 3, 4]

  public init() {}
  public var name: String { "winograd" }
  public var summary: String {
    "Winograd F(2×2,3×3) / F(3×3,3×3) / F(4×4,3×3), and F(2,3) along rows, for 3×3 stride-1 layers: SIMD transforms, packed-GEMM products"
  }
  public var availability: Availability { .available }

  public func supports(_ p: ConvProblem) -> Support {
    if p.kernelHeight != 3 || p.kernelWidth != 3 || p.strideHeight != 1 || p.strideWidth != 1 {
      return .no("Winograd F(m×m,3×3) needs a 3×3 kernel with stride 1 "
        + "(got \(p.kernelHeight)×\(p.kernelWidth), stride \(p.strideHeight)×\(p.strideWidth))")
    }
    if p.isDilated {
      return .no("Winograd F(m×m,3×3) interpolates over adjacent taps; a dilated kernel (dh\(p.dilationHeight)dw\(p.dilationWidth)) has gaps")
    }
    return .yes
  }

  /// Winograd's transforms amplify rounding error; see `Tolerance.winograd`.
  public func tolerance(for problem: ConvProblem, config: BackendConfig) -> Double { Tolerance.winograd }
  /// Its layers' errors compound over a network more than direct methods' (see `Tolerance`).
  public var networkTolerance: Double { Tolerance.networkWinograd }

  /// The default first, then every tile size × both splits × `candidateBlockTiles`
  /// (block sizes capped at the tile count) and the even splits into
  /// `candidateBlockCounts` blocks (duplicates dropped), then with
  /// groups = 1 F(2, 3) along rows with the default and `rowCandidateTileRows` tiles.
  public func configurations(for p: ConvProblem, machine: MachineModel) -> [BackendConfig] {
    let preferred = preferredOutputTile(for: p)
    var out = [defaultConfiguration(for: p, outputTile: preferred, machine: machine)]
    for m in [preferred] + Self.outputTiles.filter({ $0 != preferred }) {
      let tileCount = WinogradTiling(problem: p, outputTile: m, blockTiles: 1).tileCount
      for split in [WinogradSplit.blocks, .phases] {
        let even = Self.candidateBlockCounts.filter { $0 < tileCount }.map { (tileCount + $0 - 1) / $0 }
        let sizes = [blockTiles(for: p, outputTile: m, split: split, machine: machine)] + Self.candidateBlockTiles + even
        for tiles in sizes.map({ min($0, tileCount) }) {
          let config = Self.configuration(m: m, tiles: tiles, split: split)
          if !out.contains(config) { out.append(config) }
        }
      }
    }
    if p.groups == 1 {
      let knobs = Self.rowKnobs(for: p, machine: machine)
      for rows in [knobs.pixelTile] + Self.rowCandidateTileRows where KernelTable.tile(rows: rows, vectors: knobs.panelVectors, lanes: knobs.lanes) != nil {
        let config = Self.rowConfiguration(rows: rows, vectors: knobs.panelVectors)
        if !out.contains(config) { out.append(config) }
      }
    }
    return out
  }

  /// F(4×4, 3×3) (4× fewer multiplications) unless the layer has fewer than
  /// `minimumLargeTiles` 4×4 tiles. Each transformed filter value streamed by
  /// the products is used once per tile (2 flops per 4 bytes), so with few
  /// tiles the products are bound by streaming the transformed filters, which
  /// F(4×4) makes 36/16 = 2.25× larger than F(2×2). Measured with 512 channels
  /// at 7×7 (4 tiles of 4×4, 16 of 2×2), batch 1, 2 threads: F(4×4) 0.88 ms,
  /// F(2×2) 0.68 ms; with 16 tiles of 4×4 (256 channels at 14×14) F(4×4) wins,
  /// 0.38 ms against 0.54 ms.
  func preferredOutputTile(for p: ConvProblem) -> Int {
    let large = WinogradTiling(problem: p, outputTile: 4, blockTiles: 1).tileCount
    return large >= Self.minimumLargeTiles ? 4 : 2
  }

  /// The measured best layout for output tile `m`: whole blocks per thread
  /// while all α² transformed filters fit one core's L2 (every thread streams
  /// all of them for every block), shared phases otherwise (each thread
  /// streams its share once per block).
  ///
  /// With shared phases every block streams all the filters once, so when
  /// they outweigh the whole image's transformed input and products at
  /// least twice over, the image is one block even if that block spills
  /// from L2: the filters come from DRAM inside a network, the block's V and
  /// M from L3 at worst. Measured in-network, 2 threads (Keras ResNet-50):
  /// 256 channels at 14×14 (16 tiles, 9.4 MB of filters), 16 tiles per block
  /// 1.1–1.2 ms against 1.5–1.6 ms in blocks of 12; 512 channels at 7×7,
  /// F(2×2) with its 16 tiles in one block, 1.7 ms against 2.3–2.4 ms.
  func defaultConfiguration(for p: ConvProblem, outputTile m: Int, machine: MachineModel) -> BackendConfig {
    let alpha = m + 2
    let filterBytes = alpha * alpha * p.groupInChannels * p.outChannels * MemoryLayout<Float>.stride
    let split: WinogradSplit = filterBytes <= machine.l2Bytes ? .blocks : .phases
    let tileCount = WinogradTiling(problem: p, outputTile: m, blockTiles: 1).tileCount
    var tiles = min(tileCount, blockTiles(for: p, outputTile: m, split: split, machine: machine))
    if split == .phases && filterBytes >= 2 * tileCount * bytesPerTile(p, outputTile: m) {
      tiles = min(tileCount, Self.maxBlockTiles)
    }
    return Self.configuration(m: m, tiles: tiles, split: split)
  }

  /// Bytes of one tile's transformed input and products (its rows of V and M).
  func bytesPerTile(_ p: ConvProblem, outputTile m: Int) -> Int {
    let alpha = m + 2
    return alpha * alpha * (WinogradTiling.roundUpToVector(p.inChannels) + WinogradTiling.roundUpToVector(p.outChannels))
      * MemoryLayout<Float>.stride
  }

  /// Tiles per block that fill the split's budget — half of one core's L2 for
  /// a block's V and M with `blocks` (the other half for the transformed
  /// filters it streams), the L2 of every core with `phases` (the shared block
  /// is spread over them) — in multiples of the GEMM tile's rows (a product's
  /// rows are its tiles).
  func blockTiles(for p: ConvProblem, outputTile m: Int, split: WinogradSplit, machine: MachineModel) -> Int {
    let perTile = bytesPerTile(p, outputTile: m)
    let budget = split == .blocks ? machine.l2Bytes / 2 : machine.l2Bytes * machine.cores
    let rows = PackedGemm.defaultTile(on: machine).rows
    let tiles = budget / perTile / rows * rows
    return min(Self.maxBlockTiles, max(rows, tiles))
  }

  static func configuration(m: Int, tiles: Int, split: WinogradSplit) -> BackendConfig {
    BackendConfig([outputTileKey: m, blockTilesKey: tiles, splitKey: split.rawValue])
  }

  public func pack(_ p: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    switch config[Self.dimensionsKey] ?? 2 {
    case 1: return try packRows(p, weights: weights, config: config, machine: machine)
    case 2: break
    case let d: throw BackendError("winograd has no dims=\(d); choose dims=2 (F(m×m, 3×3), the default) or dims=1 (F(2, 3) along rows)")
    }
    let known: Set = [Self.outputTileKey, Self.blockTilesKey, Self.splitKey, Self.dimensionsKey]
    if let unknown = config.parameters.keys.sorted().first(where: { !known.contains($0) }) {
      throw BackendError("winograd has no configuration key '\(unknown)'; known: m, tiles, split, dims")
    }
    let m = config[Self.outputTileKey] ?? preferredOutputTile(for: p)
    guard let algorithm = WinogradAlgorithm(rawValue: m) else {
      throw BackendError("winograd has no output tile m=\(m); choose \(Self.outputTiles.map { "m=\($0)" }.joined(separator: " or "))")
    }
    let base = defaultConfiguration(for: p, outputTile: m, machine: machine)
    let tiles = config[Self.blockTilesKey] ?? base[Self.blockTilesKey] ?? 1
    guard (1...Self.maxBlockTiles).contains(tiles) else {
      throw BackendError("winograd tiles=\(tiles) is out of range 1...\(Self.maxBlockTiles)")
    }
    let rawSplit = config[Self.splitKey] ?? base[Self.splitKey] ?? 0
    guard let split = WinogradSplit(rawValue: rawSplit) else {
      throw BackendError("winograd has no split=\(rawSplit); choose 0 (blocks) or 1 (phases)")
    }
    return PreparedWinograd(problem: p, weights: weights, config: Self.configuration(m: m, tiles: tiles, split: split),
                            algorithm: algorithm, blockTiles: tiles, split: split, maxThreads: machine.cores,
                            gemmTile: PackedGemm.defaultTile(on: machine), cacheBytes: machine.l2Bytes)
  }
}

extension WinogradBackend {
  /// The inner direct convolution's knobs for `dims=1`: tiled-simd's default for the 3×1 products.
  static func rowKnobs(for p: ConvProblem, machine: MachineModel) -> TiledConvConfiguration {
    TiledConvConfiguration.defaultFor(PreparedRowWinograd.productProblem(p), machine: machine)
  }

  static func rowConfiguration(rows: Int, vectors: Int) -> BackendConfig {
    BackendConfig([dimensionsKey: 1, outputTileKey: 2, "mr": rows, "nr": vectors])
  }

  /// `dims=1`: F(2, 3) along rows, its products on a tiled direct 3×1 convolution.
  func packRows(_ p: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    let known = Set([Self.outputTileKey, Self.dimensionsKey] + Self.rowTileKeys)
    if let unknown = config.parameters.keys.sorted().first(where: { !known.contains($0) }) {
      throw BackendError("winograd dims=1 has no configuration key '\(unknown)'; known: dims, m, mr, nr")
    }
    if let m = config[Self.outputTileKey], m != 2 {
      throw BackendError("winograd dims=1 is F(2, 3) along rows: m must be 2, got m=\(m)")
    }
    guard p.groups == 1 else {
      throw BackendError("winograd dims=1 needs groups=1 (got g\(p.groups)); use dims=2")
    }
    var knobs = Self.rowKnobs(for: p, machine: machine)
    if let mr = config["mr"] { knobs.pixelTile = mr }
    if let nr = config["nr"] { knobs.panelVectors = nr }
    guard let tile = knobs.tile else {
      throw BackendError("winograd dims=1 has no register tile mr=\(knobs.pixelTile),nr=\(knobs.panelVectors); tiles: \(KernelTable.listing)")
    }
    return PreparedRowWinograd(problem: p, weights: weights,
                               config: Self.rowConfiguration(rows: knobs.pixelTile, vectors: knobs.panelVectors),
                               knobs: knobs, tile: tile, machine: machine)
  }
}

/// The Winograd algorithms implemented, by output tile side m (the raw value).
enum WinogradAlgorithm: Int, CaseIterable, Sendable {
  case f2x3 = 2
  case f3x3 = 3
  case f4x3 = 4
  var outputTile: Int { rawValue }
}

/// How the threads of the pool share the work of one run.
enum WinogradSplit: Int, Sendable {
  /// Each thread takes whole blocks of tiles and runs all three phases on them
  /// in its own scratch, so a block's transformed data never leaves its L2.
  /// Suits layers with many tiles and small transformed filters.
  case blocks = 0
  /// The threads share one block at a time: they split its input transform
  /// and output transform by tiles and its α² products by transformed element,
  /// so each thread streams only its share of the transformed filters.
  /// Suits deep layers with few tiles and large filters (e.g. 512 channels at 7×7).
  case phases = 1
}

