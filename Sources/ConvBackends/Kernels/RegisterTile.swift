import ConvCore

/// One entry of `KernelTable`: the outer-product microkernel for an
/// `rows × vectors·lanes` register tile on `lanes`-float SIMD vectors, with the
/// loops of both consumers (the tiled direct convolution and the packed GEMM)
/// compiled for exactly that tile.
///
/// Named as XNNPACK names its microkernels (doc/microkernel-naming-conventions.md):
/// operation, tile, then the vector type after a double underscore, e.g.
/// `f32_gemm_6x16__simd8` — six rows of two 8-float vectors.
struct RegisterTile: Sendable, CustomStringConvertible {
  /// Rows of the tile (MR): output pixels, or GEMM rows.
  let rows: Int
  /// Vectors per row (NR).
  let vectors: Int
  /// Floats per vector (`V.scalarCount`).
  let lanes: Int
  /// One task of a tiled direct convolution with this tile (see `TiledConvolutionJob`).
  let convolve: @Sendable (TiledConvolutionJob, Int) -> Void
  /// One packed GEMM with this tile as its main tile (see `PackedGemm`).
  let multiply: @Sendable (PackedGemm.Operands) -> Void

  init<let MR: Int, let NR: Int, V: KernelVector>(_: InlineArray<MR, InlineArray<NR, V>>.Type) where V.Scalar == Float {
    rows = MR
    vectors = NR
    lanes = V.scalarCount
    convolve = { job, task in TiledConvolutionJob.run(InlineArray<MR, InlineArray<NR, V>>.self, job, task: task) }
    multiply = { operands in PackedGemm.run(InlineArray<MR, InlineArray<NR, V>>.self, operands) }
  }

  /// Output columns of the tile (a packed panel's width).
  var columns: Int { vectors * lanes }

  var description: String { "f32_gemm_\(rows)x\(columns)__simd\(lanes)" }

  /// Vector registers the kernel keeps live: the accumulators, the `NR`
  /// weight vectors of a step and the broadcast, each vector wider than the
  /// machine's taking several of its registers.
  func registersNeeded(on machine: MachineModel) -> Int {
    (rows * vectors + vectors + 1) * max(1, lanes / max(machine.vectorFloats, 1))
  }

  /// True when this tile is one the tuner should try on `machine`: vectors of
  /// the machine's native width, and no more live vectors than it has registers.
  func isNative(on machine: MachineModel) -> Bool {
    lanes == KernelTable.nativeLanes(on: machine) && registersNeeded(on: machine) <= machine.vectorRegisters
  }
}

/// Every compiled register tile. The tuner's tiled-simd configurations and the
/// packed GEMM's tile are chosen from this list (filtered by `isNative`), and
/// a configuration naming a tile not in it is refused with the list: there is
/// no second list to keep in step.
///
/// Within one vector width the first entry of each `vectors` value is that
/// width's default: 6 × 2 vectors (12 accumulators) measured fastest on most
/// ResNet-50 layers with 16 floats (Zen 4) and is the classic 6×16 AVX2 shape
/// with 8 (Goto's kernel for 16 registers); 8 × 1 serves layers of at most one
/// vector of output channels; with 16-float vectors 4 × 4 is tiled-simd's
/// default for layers of 64 or more output channels
/// (`TiledConvConfiguration.wideVectors`), 3 × 4 a candidate beside it.
/// With more than about 10 rows the rows' pointers no longer fit the 16
/// general-purpose registers and are reloaded every step, so 12- and 16-row tiles measured slower; 12 × 2
/// with 16-float vectors was never chosen by the tuner on Zen 4 and was
/// dropped for the 4-vector tiles.
enum KernelTable {
  static let tiles: [RegisterTile] = [
    RegisterTile(InlineArray<6, InlineArray<2, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<7, InlineArray<2, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<8, InlineArray<2, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<4, InlineArray<2, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<4, InlineArray<4, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<3, InlineArray<4, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<8, InlineArray<1, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<16, InlineArray<1, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<4, InlineArray<1, SIMD16<Float>>>.self),
    RegisterTile(InlineArray<6, InlineArray<2, SIMD8<Float>>>.self),
    RegisterTile(InlineArray<4, InlineArray<3, SIMD8<Float>>>.self),
    RegisterTile(InlineArray<4, InlineArray<2, SIMD8<Float>>>.self),
    RegisterTile(InlineArray<5, InlineArray<2, SIMD8<Float>>>.self),
    RegisterTile(InlineArray<8, InlineArray<1, SIMD8<Float>>>.self),
    RegisterTile(InlineArray<12, InlineArray<1, SIMD8<Float>>>.self),
    RegisterTile(InlineArray<4, InlineArray<1, SIMD8<Float>>>.self),
  ]

  /// The vector widths compiled, narrowest first.
  static let laneWidths = [8, 16]

  /// The compiled vector width closest to the machine's registers: 16 with
  /// AVX-512, 8 with AVX2 (and the narrowest compiled width below that).
  static func nativeLanes(on machine: MachineModel) -> Int {
    laneWidths.last { $0 <= machine.vectorFloats } ?? laneWidths[0]
  }

  /// The tile with this shape, or nil.
  static func tile(rows: Int, vectors: Int, lanes: Int) -> RegisterTile? {
    tiles.first { $0.rows == rows && $0.vectors == vectors && $0.lanes == lanes }
  }

  /// Native tiles on `machine`, in table order.
  static func native(on machine: MachineModel) -> [RegisterTile] {
    tiles.filter { $0.isNative(on: machine) }
  }

  /// The first native tile with `vectors` vectors (and at most `rows` rows when given).
  static func preferred(vectors: Int, maxRows: Int? = nil, on machine: MachineModel) -> RegisterTile? {
    native(on: machine).first { tile in tile.vectors == vectors && tile.rows <= (maxRows ?? tile.rows) }
  }

  /// "f32_gemm_6x16__simd8, …" for error messages.
  static var listing: String { tiles.map(\.description).joined(separator: ", ") }
}

/// The kernel table as `env` prints it.
public enum KernelTableListing {
  /// The native tiles on `machine`, by name, in table order.
  public static func native(on machine: MachineModel) -> [String] { KernelTable.native(on: machine).map(\.description) }
}
