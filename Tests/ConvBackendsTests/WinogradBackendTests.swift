@testable import ConvBackends
import ConvCore
import Measurement
import XCTest

/// The Winograd backend: its 1-D and 2-D transforms against direct correlation,
/// every tile size against the Float64 reference on every stride-1 3×3 layer of
/// ResNet-18/34/50 and on generated edge shapes, its configuration handling and
/// its phase profile.
final class WinogradBackendTests: XCTestCase {
  let backend = WinogradBackend()

  /// The stride-1 3×3 layers of ResNet-18, -34 and -50 at 224×224 (the three
  /// networks share them; ResNet-50's list is checked to contain them).
  static let resnetShapes = [
    "mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1", "mb1ic128ih28iw28oc128kh3kw3sh1sw1ph1pw1",
    "mb1ic256ih14iw14oc256kh3kw3sh1sw1ph1pw1", "mb1ic512ih7iw7oc512kh3kw3sh1sw1ph1pw1",
  ]

  /// Relative error allowed for one transformed tile of sixteen independent
  /// lanes: a handful of Float32 roundings amplified by the transforms' entries.
  static let transformTolerance: Float = 1e-5

  // MARK: - Transforms

  /// y = Aᵀ[(G·g) ⊙ (Bᵀ·d)] must equal the correlation yᵢ = Σⱼ d_{i+j} gⱼ.
  func testF2x3OneDimensionalTransformsMatchCorrelation() {
    var rng = SeededGenerator(seed: 11)
    for _ in 0..<20 {
      let d = (0..<4).map { _ in vector(&rng) }, g = (0..<3).map { _ in vector(&rng) }
      let u = filterRow(g) { let t = WinogradF2x3Transforms.filterRow(($0[0], $0[1], $0[2])); return [t.0, t.1, t.2, t.3] }
      let v = WinogradF2x3Transforms.inputRow((d[0], d[1], d[2], d[3]))
      let y = WinogradF2x3Transforms.outputRow((u[0] * v.0, u[1] * v.1, u[2] * v.2, u[3] * v.3))
      assertClose([y.0, y.1], correlate(d, g))
    }
  }

  func testF3x3OneDimensionalTransformsMatchCorrelation() {
    var rng = SeededGenerator(seed: 15)
    for _ in 0..<20 {
      let d = (0..<5).map { _ in vector(&rng) }, g = (0..<3).map { _ in vector(&rng) }
      let u = filterRow(g) {
        let t = WinogradF3x3Transforms.filterRow(($0[0], $0[1], $0[2]))
        return [t.0, t.1, t.2, t.3, t.4]
      }
      let v = WinogradF3x3Transforms.inputRow((d[0], d[1], d[2], d[3], d[4]))
      let y = WinogradF3x3Transforms.outputRow((u[0] * v.0, u[1] * v.1, u[2] * v.2, u[3] * v.3, u[4] * v.4))
      assertClose([y.0, y.1, y.2], correlate(d, g))
    }
  }

  func testF4x3OneDimensionalTransformsMatchCorrelation() {
    var rng = SeededGenerator(seed: 12)
    for _ in 0..<20 {
      let d = (0..<6).map { _ in vector(&rng) }, g = (0..<3).map { _ in vector(&rng) }
      let u = filterRow(g) {
        let t = WinogradF4x3Transforms.filterRow(($0[0], $0[1], $0[2]))
        return [t.0, t.1, t.2, t.3, t.4, t.5]
      }
      let v = WinogradF4x3Transforms.inputRow((d[0], d[1], d[2], d[3], d[4], d[5]))
      let y = WinogradF4x3Transforms.outputRow(
        (u[0] * v.0, u[1] * v.1, u[2] * v.2, u[3] * v.3, u[4] * v.4, u[5] * v.5))
      assertClose([y.0, y.1, y.2, y.3], correlate(d, g))
    }
  }

  func testF2x3TwoDimensionalTransformsMatchCorrelation() {
    checkTwoDimensional(WinogradF2x3Transforms.self, seed: 13)
  }

  func testF3x3TwoDimensionalTransformsMatchCorrelation() {
    checkTwoDimensional(WinogradF3x3Transforms.self, seed: 16)
  }

  func testF4x3TwoDimensionalTransformsMatchCorrelation() {
    checkTwoDimensional(WinogradF4x3Transforms.self, seed: 14)
  }

  // MARK: - Shapes and configurations

  func testSupportsOnlyThreeByThreeStrideOne() throws {
    XCTAssertEqual(backend.supports(try ConvProblem(descriptor: Self.resnetShapes[0])), .yes)
    let strided = try ConvProblem(descriptor: "mb1ic128ih56iw56oc128kh3kw3sh2sw2ph1pw1")
    let pointwise = try ConvProblem(descriptor: "mb1ic64ih56iw56oc256kh1kw1sh1sw1ph0pw0")
    let stem = try ConvProblem(descriptor: "mb1ic3ih224iw224oc64kh7kw7sh2sw2ph3pw3")
    for p in [strided, pointwise, stem] {
      let reason = try XCTUnwrap(backend.supports(p).reason, p.descriptor)
      XCTAssertTrue(reason.contains("3×3") && reason.contains("stride 1"), reason)
      XCTAssertThrowsError(try backend.prepare(p, weights: .random(for: p, seed: 1), config: .default))
    }
  }

  func testConfigurationsCoverEveryTileAndAllPrepare() throws {
    for descriptor in Self.resnetShapes {
      let p = try ConvProblem(descriptor: descriptor)
      let configs = backend.configurations(for: p)
      XCTAssertEqual(Set(configs.compactMap { $0[WinogradBackend.outputTileKey] }), [2, 3, 4], descriptor)
      XCTAssertEqual(Set(configs).count, configs.count, "duplicate configurations for \(descriptor)")
      let weights = ConvWeights.random(for: p, seed: 3)
      XCTAssertEqual(try backend.prepare(p, weights: weights, config: .default).config, configs[0])
    }
  }

  /// 49 F(4×4) tiles (28×28): besides the fixed sizes, whose last block of
  /// 16 is one tile, the even splits into 2, 3 and 4 blocks are offered.
  func testConfigurationsOfferEvenBlockSplits() throws {
    let p = try ConvProblem(descriptor: "mb1ic128ih28iw28oc128kh3kw3sh1sw1ph1pw1")
    let sizes = Set(backend.configurations(for: p).filter { $0[WinogradBackend.outputTileKey] == 4 }
      .compactMap { $0[WinogradBackend.blockTilesKey] })
    XCTAssertTrue(sizes.isSuperset(of: [25, 17, 13]), "\(sizes.sorted())")
    XCTAssertTrue(sizes.allSatisfy { (1...49).contains($0) }, "\(sizes.sorted())")
  }

  func testPrepareRejectsUnknownConfigurations() throws {
    let p = try ConvProblem(descriptor: "mb1ic8ih9iw9oc8kh3kw3ph1")
    let weights = ConvWeights.random(for: p, seed: 4)
    for text in ["m=1", "m=5", "m=6", "tiles=0", "tiles=100000", "split=2", "block=4", "m=4,mc=64",
                 "dims=0", "dims=3", "dims=1,m=3", "dims=1,m=4", "dims=1,tiles=4", "dims=1,split=1", "dims=1,mr=7", "dims=1,nr=9"] {
      let config = try XCTUnwrap(BackendConfig(parsing: text))
      XCTAssertThrowsError(try backend.prepare(p, weights: weights, config: config), text) { error in
        XCTAssertTrue(error is BackendError, text)
      }
    }
    let partial = try backend.prepare(p, weights: weights, config: BackendConfig(["m": 2]))
    XCTAssertEqual(partial.config[WinogradBackend.outputTileKey], 2)
    XCTAssertNil(partial.config[WinogradBackend.dimensionsKey])
    let rows = try backend.prepare(p, weights: weights, config: BackendConfig(["dims": 1]))
    XCTAssertEqual(rows.config[WinogradBackend.dimensionsKey], 1)
    XCTAssertEqual(rows.config[WinogradBackend.outputTileKey], 2)
    XCTAssertNotNil(rows.config["mr"])
  }

  /// F(2, 3) along rows runs its products without groups; a grouped layer is
  /// refused with dims=1 by name, and not offered it.
  func testRowsOnlyWithoutGroups() throws {
    let grouped = try ConvProblem(descriptor: "g4mb1ic32ih9iw9oc32kh3kw3ph1")
    XCTAssertFalse(backend.configurations(for: grouped).contains { $0[WinogradBackend.dimensionsKey] == 1 })
    XCTAssertThrowsError(try backend.prepare(grouped, weights: .random(for: grouped, seed: 8), config: BackendConfig(["dims": 1]))) { error in
      XCTAssertTrue((error as? BackendError)?.message.contains("groups=1") ?? false, "\(error)")
    }
    let plain = try ConvProblem(descriptor: Self.resnetShapes[3])
    let rows = backend.configurations(for: plain).filter { $0[WinogradBackend.dimensionsKey] == 1 }
    let knobs = WinogradBackend.rowKnobs(for: plain, machine: .current)
    XCTAssertEqual(Set(rows.compactMap { $0["mr"] }), Set([knobs.pixelTile, 4]), "the default register tile and 4 rows")
    XCTAssertTrue(rows.allSatisfy { $0["nr"] == knobs.panelVectors }, "\(rows)")
  }

  /// The transformed filters of F(2, 3) along rows are 12/9 of the layer's:
  /// four planes of three kernel rows, each row G·g (what `packedWeightBytes`
  /// reports, and what cold-weight timings evict).
  func testRowFiltersAreTwelveNinths() throws {
    let p = try ConvProblem(descriptor: "mb1ic32ih7iw7oc32kh3kw3ph1")
    let prepared = try backend.prepare(p, weights: .random(for: p, seed: 9), config: BackendConfig(["dims": 1]))
    let weightBytes = p.weightCount * MemoryLayout<Float>.stride
    XCTAssertGreaterThanOrEqual(prepared.packedWeightBytes, weightBytes * 12 / 9)
    XCTAssertLessThan(prepared.packedWeightBytes, weightBytes * 12 / 9 + 4 * 32 * 4 * 2 + 64)
    XCTAssertEqual(prepared.packedWeightBuffers.reduce(0) { $0 + $1.count } * MemoryLayout<Float>.stride, prepared.packedWeightBytes)
  }

  /// The defaults measured fastest on ResNet-50's layers (batch 1, 2 threads):
  /// F(2×2) where a layer has fewer than `minimumLargeTiles` 4×4 tiles,
  /// whole blocks per thread where the transformed filters fit one core's L2
  /// (so the choice follows the machine: 64→64 channels, 590 KB of F(4×4)
  /// filters, fit a 1 MiB L2 but not a 512 KiB one).
  func testDefaultsFollowMeasurements() throws {
    let expected: [(String, m: Int, splitWithMiB: Int, splitWithHalfMiB: Int)] = [
      (Self.resnetShapes[0], 4, 0, 1), (Self.resnetShapes[1], 4, 1, 1), (Self.resnetShapes[2], 4, 1, 1), (Self.resnetShapes[3], 2, 1, 1),
    ]
    for (descriptor, m, large, small) in expected {
      let p = try ConvProblem(descriptor: descriptor)
      for (l2, split) in [(1 << 20, large), (1 << 19, small)] {
        var machine = MachineModel.current
        machine.l2Bytes = l2
        let first = backend.configurations(for: p, machine: machine)[0]
        XCTAssertEqual(first[WinogradBackend.outputTileKey], m, descriptor)
        XCTAssertEqual(first[WinogradBackend.splitKey], split, "\(descriptor), L2 \(l2)")
      }
    }
  }

  /// With shared phases, a layer whose transformed filters outweigh its whole
  /// image's V and M twice over is one block (every block streams all the
  /// filters): 256 channels at 14×14 (16 tiles of 4×4, 9.4 MB of filters)
  /// and 512 at 7×7 (16 tiles of 2×2). 128 channels at 28×28 (49 tiles,
  /// 2.4 MB against 1.8 MB) keeps the L2-sized blocks.
  func testOneBlockWhenTheFiltersDominate() throws {
    var machine = MachineModel.current
    machine.l2Bytes = 512 << 10
    machine.cores = 2
    for (descriptor, tiles) in [("mb1ic256ih14iw14oc256kh3kw3sh1sw1ph1pw1", 16), ("mb1ic512ih7iw7oc512kh3kw3sh1sw1ph1pw1", 16)] {
      let first = backend.configurations(for: try ConvProblem(descriptor: descriptor), machine: machine)[0]
      XCTAssertEqual(first[WinogradBackend.splitKey], 1, descriptor)
      XCTAssertEqual(first[WinogradBackend.blockTilesKey], tiles, descriptor)
    }
    let mid = backend.configurations(for: try ConvProblem(descriptor: "mb1ic128ih28iw28oc128kh3kw3sh1sw1ph1pw1"), machine: machine)[0]
    XCTAssertLessThan(mid[WinogradBackend.blockTilesKey] ?? 0, 49)
  }

  func testToleranceIsWinograds() throws {
    let p = try ConvProblem(descriptor: Self.resnetShapes[3])
    XCTAssertEqual(backend.tolerance(for: p, config: .default), Tolerance.winograd)
  }

  // MARK: - Against the reference

  /// Every configuration (every tile size, both splits, every candidate block
  /// size) on every ResNet stride-1 3×3 layer, the epilogue varied by seed
  /// (residual on even seeds, ReLU unless the seed is a multiple of 3).
  func testResNetLayersWithinTolerance() throws {
    XCTAssertTrue(Set(Self.resnetShapes).isSubset(of: ConvTestSupport.resnet50Shapes))
    for descriptor in Self.resnetShapes {
      let p = try ConvProblem(descriptor: descriptor)
      for (index, config) in backend.configurations(for: p).enumerated() {
        let error = try ConvTestSupport.check(backend, p, config: config, seed: UInt64(1 + index))
        print("winograd \(descriptor) [\(config)]: max error \(error)")
      }
    }
  }

  /// 100 generated shapes (input 1–16 pixels a side, so outputs from 1 pixel
  /// with partial tiles at every edge; 1–40 channels, padding 0–2, batch 1–3)
  /// for each tile size, with blocks of 1–5 tiles so blocks end inside images
  /// and rows, both splits and 1 or 2 threads; and F(2, 3) along rows with
  /// each native register tile's rows in turn (odd widths end in a half tile).
  func testEdgeShapesWithinTolerance() throws {
    let shapes = ConvTestSupport.edgeShapes(count: 100, seed: 2024, kernels: [3], strides: [1])
    for (index, p) in shapes.enumerated() {
      for m in WinogradBackend.outputTiles {
        let config = BackendConfig([
          WinogradBackend.outputTileKey: m,
          WinogradBackend.blockTilesKey: 1 + index % 5,
          WinogradBackend.splitKey: (index / 2) % 2,
        ])
        try ConvTestSupport.check(backend, p, config: config, seed: UInt64(index), threads: 1 + index % 2)
      }
      let vectors = WinogradBackend.rowKnobs(for: p, machine: .current).panelVectors
      let tileRows = KernelTable.native(on: .current).filter { $0.vectors == vectors }.map(\.rows)
      let rows = BackendConfig([WinogradBackend.dimensionsKey: 1, "mr": tileRows[index % tileRows.count]])
      try ConvTestSupport.check(backend, p, config: rows, seed: UInt64(index), threads: 1 + index % 2)
    }
  }

  /// A pool larger than the workspace was sized for runs on fewer threads.
  func testPoolLargerThanCoresStillCorrect() throws {
    let p = try ConvProblem(descriptor: "mb2ic20ih15iw13oc24kh3kw3ph1")
    let threads = ThreadPool.availableCores + 2
    for config in backend.configurations(for: p) {
      try ConvTestSupport.check(backend, p, config: config, seed: 5, threads: threads)
    }
  }

  // MARK: - Phase profile

  func testPhaseTimesNameTheThreePhases() throws {
    let p = try ConvProblem(descriptor: "mb1ic32ih28iw28oc32kh3kw3ph1")
    let prepared = try backend.prepare(p, weights: .random(for: p, seed: 6), config: .default)
    XCTAssertNil(prepared.lastPhaseTimes)
    let input = AlignedBuffer(count: p.inputCount), output = AlignedBuffer(count: p.outputCount)
    let workspace = Workspace(byteCount: prepared.workspaceBytes)
    let pool = ThreadPool.shared(threads: 2)
    let wall = Stopwatch.time {
      prepared.run(input: input.pointer, output: output.pointer, residual: nil, relu: true,
                   workspace: workspace.pointer, pool: pool)
    }
    let phases = try XCTUnwrap(prepared.lastPhaseTimes).phases
    XCTAssertEqual(phases.map(\.name), ["input transform", "products", "output transform"])
    XCTAssertTrue(phases.allSatisfy { $0.seconds >= 0 })
    XCTAssertLessThanOrEqual(phases.map(\.seconds).reduce(0, +), wall * Double(pool.threadCount))
  }

  // MARK: - Helpers

  private func vector(_ rng: inout SeededGenerator) -> WinogradVector {
    var v = WinogradVector()
    for i in 0..<WinogradVector.scalarCount { v[i] = Float(rng.normal()) }
    return v
  }

  /// G·g lane by lane, in Float64 as `prepare` computes it, rounded to Float.
  private func filterRow(_ g: [WinogradVector], _ transform: ([Double]) -> [Double]) -> [WinogradVector] {
    let lanes = (0..<WinogradVector.scalarCount).map { lane in transform(g.map { Double($0[lane]) }) }
    return (0..<lanes[0].count).map { i in
      var v = WinogradVector()
      for lane in 0..<WinogradVector.scalarCount { v[lane] = Float(lanes[lane][i]) }
      return v
    }
  }

  /// yᵢ = Σⱼ d_{i+j} gⱼ for i ∈ 0..<d.count − 2, in Float64.
  private func correlate(_ d: [WinogradVector], _ g: [WinogradVector]) -> [[Double]] {
    (0..<d.count - 2).map { i in
      (0..<WinogradVector.scalarCount).map { lane in
        (0..<3).reduce(0.0) { $0 + Double(d[i + $1][lane]) * Double(g[$1][lane]) }
      }
    }
  }

  private func assertClose(_ got: [WinogradVector], _ expected: [[Double]], file: StaticString = #filePath, line: UInt = #line) {
    let scale = expected.flatMap { $0 }.map(abs).max() ?? 1
    for (i, row) in expected.enumerated() {
      for lane in 0..<WinogradVector.scalarCount {
        XCTAssertEqual(Double(got[i][lane]), row[lane], accuracy: Double(Self.transformTolerance) * max(scale, 1),
                       "output \(i), lane \(lane)", file: file, line: line)
      }
    }
  }

  /// Filter, input and output transforms of one α×α tile (sixteen independent
  /// lanes) against 2-D correlation of the tile with the filter.
  private func checkTwoDimensional<T: WinogradTransforms>(_: T.Type, seed: UInt64) {
    var rng = SeededGenerator(seed: seed)
    let (alpha, m) = (T.inputTile, T.outputTile)
    let d = (0..<alpha * alpha).map { _ in vector(&rng) }
    let g = (0..<9).map { _ in vector(&rng) }
    var u = [WinogradVector](repeating: WinogradVector(), count: alpha * alpha)
    for lane in 0..<WinogradVector.scalarCount {
      T.transformFilter({ r, s in Double(g[r * 3 + s][lane]) }, { e, value in u[e][lane] = Float(value) })
    }
    let width = WinogradVector.scalarCount
    let tile = AlignedBuffer(count: alpha * alpha * width), v = AlignedBuffer(count: alpha * alpha * width)
    let products = AlignedBuffer(count: alpha * alpha * width), y = AlignedBuffer(count: m * m * width)
    let scratch = AlignedBuffer(count: T.scratchFloats)
    for (e, value) in d.enumerated() { VectorMemory.store(value, tile.pointer + e * width) }
    T.transformInput(tile.pointer, rowStride: alpha * width, columnStride: width,
                     into: v.pointer, elementStride: width, scratch: scratch.pointer)
    for e in 0..<alpha * alpha {
      VectorMemory.store(u[e] * VectorMemory.load(v.pointer + e * width), products.pointer + e * width)
    }
    T.transformOutput(products.pointer, elementStride: width, into: y.pointer, scratch: scratch.pointer)
    var expected: [[Double]] = []
    for r in 0..<m {
      for s in 0..<m {
        expected.append((0..<WinogradVector.scalarCount).map { lane in
          var sum = 0.0
          for i in 0..<3 { for j in 0..<3 { sum += Double(d[(r + i) * alpha + s + j][lane]) * Double(g[i * 3 + j][lane]) } }
          return sum
        })
      }
    }
    assertClose((0..<m * m).map { VectorMemory.load(y.pointer + $0 * width) }, expected)
  }
}
