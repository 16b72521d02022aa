@testable import ConvBackends
import ConvCore
import XCTest

final class TiledSIMDBackendTests: XCTestCase {
  private let backend = TiledSIMDBackend()

  // MARK: - Convolution

  func testResNet50ShapesWithDefaultConfiguration() throws {
    for descriptor in ConvTestSupport.resnet50Shapes {
      try ConvTestSupport.check(backend, ConvProblem(descriptor: descriptor), seed: UInt64(descriptor.count))
    }
  }

  /// 200 seeded shapes: odd channel counts (tails of the 16-lane vectors and
  /// 32-channel panels), widths that are not multiples of the pixel tile,
  /// strides 1–2, kernels 1–7 with every padding, batches 1–3.
  func testGeneratedEdgeShapes() throws {
    let shapes = ConvTestSupport.edgeShapes(count: 200, seed: 23)
    XCTAssertTrue(shapes.contains { $0.strideHeight == 2 } && shapes.contains { $0.kernelHeight == 7 }
                  && shapes.contains { $0.padTop == 3 } && shapes.contains { $0.batch == 3 })
    for (i, p) in shapes.enumerated() { try ConvTestSupport.check(backend, p, seed: UInt64(i)) }
  }

  /// Wider channel counts than the generated shapes reach, so that several
  /// panels, channel blocks and tasks occur, on every configuration offered,
  /// with one and two threads.
  func testEveryOfferedConfiguration() throws {
    let shapes = [
      "mb2ic150ih9iw11oc70kh3kw3sh1sw1ph1pw1", "mb1ic300ih6iw13oc33kh1kw1sh2sw2ph0pw0",
      "mb1ic3ih23iw23oc40kh7kw7sh2sw2ph3pw3", "mb3ic257ih5iw5oc100kh3kw3sh1sw1ph0pw0",
      "mb1ic200ih1iw1oc45kh1kw1sh1sw1ph0pw0", "mb1ic17ih12iw12oc15kh5kw3sh1sw2ph2pw1",
    ]
    for (i, descriptor) in shapes.enumerated() {
      let p = try ConvProblem(descriptor: descriptor)
      let configs = backend.configurations(for: p)
      XCTAssertGreaterThan(configs.count, 1, descriptor)
      for (j, config) in configs.enumerated() {
        try ConvTestSupport.check(backend, p, config: config, seed: UInt64(i * 10 + j), threads: 1 + j % 2)
      }
    }
  }

  /// Every compiled register tile of `KernelTable` (native here or not: all
  /// must be correct on any machine), each channel-block size class and each
  /// split, on one awkward shape.
  func testEveryRegisterTileAndKnob() throws {
    let p = try ConvProblem(descriptor: "mb2ic70ih7iw9oc50kh3kw3sh1sw1ph1pw1")
    var seed: UInt64 = 0
    for tile in KernelTable.tiles {
      for kc in [0, 16, 33] {
        for split in TiledConvConfiguration.Split.allCases {
          for order in [0, 1] {
            let config = BackendConfig(["mr": tile.rows, "nr": tile.vectors, "v": tile.lanes, "kc": kc, "split": split.rawValue,
                                        "order": order])
            try ConvTestSupport.check(backend, p, config: config, seed: seed)
            seed += 1
          }
        }
      }
    }
  }

  func testConfigurations() throws {
    for descriptor in ConvTestSupport.resnet50Shapes {
      let p = try ConvProblem(descriptor: descriptor)
      let configs = backend.configurations(for: p)
      XCTAssertFalse(configs.isEmpty)
      // A handful for the tuner's budget: four 2-vector and two 4-vector
      // tiles on AVX-512 (4, 6, 7, 8 rows; 3, 4 rows), two more splits,
      // tile-major, two channel blocks.
      XCTAssertLessThanOrEqual(configs.count, 11, descriptor)
      let blocks = Set(configs.compactMap { $0["kc"] }.filter { $0 > 0 })
      XCTAssertEqual(blocks, Set([128, 512].filter { p.groupInChannels > $0 }), "\(descriptor): blocked candidates")
      XCTAssertEqual(Set(configs).count, configs.count, "\(descriptor): duplicate configurations")
      let prepared = try backend.prepare(p, weights: .random(for: p, seed: 0), config: .default)
      XCTAssertEqual(prepared.config, configs[0], "\(descriptor): the default is the first configuration")
    }
  }

  func testRejectsInvalidConfigurations() {
    let p = ConvProblem(inChannels: 4, inHeight: 5, outChannels: 6, kernelHeight: 3)
    let weights = ConvWeights.random(for: p, seed: 0)
    for bad in [["x": 1], ["mr": 7], ["mr": 16, "nr": 2, "v": 16], ["nr": 5], ["v": 4], ["kc": -1], ["split": 7], ["order": 2]] {
      XCTAssertThrowsError(try backend.prepare(p, weights: weights, config: BackendConfig(bad)), "\(bad)")
    }
    XCTAssertNoThrow(try backend.prepare(p, weights: weights, config: BackendConfig(["mr": 3, "nr": 4, "v": 16])))
    XCTAssertNoThrow(try backend.prepare(p, weights: weights, config: BackendConfig(["mr": 4, "nr": 3, "v": 8])))
  }

  /// The default split is the one that reads the fewest bytes: pixel blocks
  /// where the input dwarfs the weights (56×56, 64 channels), panel groups
  /// where the weights dwarf the input (7×7, 512 channels, 3×3), both ways in
  /// between (28×28, 128 → 512, on two cores; on one, both ways is the
  /// same cut as pixel blocks), among the cuts that give every core a task.
  func testDefaultSplitReadsTheFewestBytes() throws {
    let expected: [(String, cores: Int, TiledConvConfiguration.Split)] = [
      ("mb1ic64ih56iw56oc256kh1kw1sh1sw1ph0pw0", 1, .pixels), ("mb1ic64ih56iw56oc256kh1kw1sh1sw1ph0pw0", 2, .pixels),
      ("mb1ic512ih7iw7oc512kh3kw3sh1sw1ph1pw1", 1, .panels), ("mb1ic512ih7iw7oc512kh3kw3sh1sw1ph1pw1", 2, .panels),
      ("mb1ic2048ih7iw7oc512kh1kw1sh1sw1ph0pw0", 1, .panels), ("mb1ic2048ih7iw7oc512kh1kw1sh1sw1ph0pw0", 2, .panels),
      ("mb1ic128ih28iw28oc512kh1kw1sh1sw1ph0pw0", 2, .both),
      // The classifier: one pixel, so pixel blocks would be one task; on one
      // core that cut reads the least, on two it would leave a core idle.
      ("mb1ic2048ih1iw1oc1000kh1kw1sh1sw1ph0pw0", 1, .pixels), ("mb1ic2048ih1iw1oc1000kh1kw1sh1sw1ph0pw0", 2, .both),
    ]
    for (descriptor, cores, split) in expected {
      var machine = MachineModel.current
      machine.cores = cores
      machine.l2Bytes = 512 << 10
      let p = try ConvProblem(descriptor: descriptor)
      XCTAssertEqual(TiledConvConfiguration.defaultFor(p, machine: machine).split, split, "\(descriptor), \(cores) cores")
    }
  }

  /// With two threads the tasks shrink towards the middle of the list, where
  /// the two threads meet: the parts cover the range exactly, in order, none
  /// empty while there are units for all, the end parts about `maximumTaper`
  /// times the middle ones when there are enough units, less when there are few.
  func testTaperedSharesCoverTheRangeAndShrinkToTheMiddle() {
    for (parts, total) in [(16, 523), (16, 32), (8, 33), (5, 11), (16, 1000), (7, 7)] {
      var next = 0
      var sizes: [Int] = []
      for i in 0..<parts {
        let r = TiledConvSchedule.share(i, of: parts, total: total, tapered: true)
        XCTAssertEqual(r.lowerBound, next, "\(parts) parts of \(total): part \(i) starts where the previous ended")
        next = r.upperBound
        sizes.append(r.count)
      }
      XCTAssertEqual(next, total, "\(parts) parts of \(total) cover it")
      XCTAssertTrue(sizes.allSatisfy { $0 >= 1 }, "\(parts) parts of \(total): \(sizes)")
      guard let first = sizes.first, let middle = sizes[(parts - 1) / 2 ... parts / 2].min() else { continue }
      if TiledConvSchedule.taperedShare(0, of: parts, total: total) == nil {
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "equal shares when it cannot taper: \(sizes)")
      } else {
        XCTAssertGreaterThan(first, middle, "\(parts) parts of \(total): \(sizes)")
        XCTAssertLessThanOrEqual(first, TiledConvSchedule.maximumTaper * (middle + 1), "rounding moves a bound by at most a unit: \(sizes)")
      }
    }
    let full = (0..<16).map { TiledConvSchedule.share($0, of: 16, total: 7200, tapered: true).count }
    XCTAssertEqual(Double(full[0]) / Double(full[7]), Double(TiledConvSchedule.maximumTaper), accuracy: 0.1, "\(full)")
  }

  /// Only a pool of two threads tapers its tasks (with more, every worker
  /// takes from the back, so there is no single meeting point).
  func testOnlyTwoThreadsTaper() throws {
    let p = try ConvProblem(descriptor: "mb1ic64ih56iw56oc256kh1kw1sh1sw1ph0pw0")
    var machine = MachineModel.current
    machine.cores = 2
    let config = TiledConvConfiguration.defaultFor(p, machine: machine)
    let panels = ConvWeightPanels.panels(of: p, width: config.panelWidth).total
    for (threads, tapered) in [(1, false), (2, true), (4, false)] {
      let schedule = TiledConvSchedule(problem: p, config: config, panels: panels, threads: threads, machine: machine)
      XCTAssertEqual(schedule.tapered, tapered, "\(threads) threads")
      let sizes = (0..<schedule.taskCount).map { schedule.task($0).tiles.count }
      XCTAssertEqual(sizes.reduce(0, +), schedule.tiles * schedule.panelGroups, "every tile in one task per panel group")
      if tapered { XCTAssertGreaterThan(sizes[0], sizes[schedule.taskCount / 2], "\(sizes)") } else {
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "\(sizes)")
      }
    }
  }

  /// `order` names only the tile-major loop, so every configuration name
  /// written before the knob existed still means what it meant.
  func testLoopOrderKnobKeepsOldNames() throws {
    let p = ConvProblem(inChannels: 16, inHeight: 6, outChannels: 32, kernelHeight: 1)
    let weights = ConvWeights.random(for: p, seed: 0)
    let old = try backend.prepare(p, weights: weights, config: BackendConfig(parsing: "kc=0,mr=6,nr=2,split=0,v=8")!)
    XCTAssertEqual(old.config.description, "kc=0,mr=6,nr=2,split=0,v=8")
    let tileMajor = try backend.prepare(p, weights: weights, config: BackendConfig(parsing: "kc=0,mr=6,nr=2,order=1,split=0,v=8")!)
    XCTAssertEqual(tileMajor.config["order"], 1)
    XCTAssertTrue(backend.configurations(for: p).contains { $0["order"] == 1 }, "the tuner tries the tile-major loop")
  }

  func testWorkspaceOnlyWhenPadded() throws {
    let unpadded = ConvProblem(inChannels: 8, inHeight: 6, outChannels: 8, kernelHeight: 3)
    let padded = ConvProblem(inChannels: 8, inHeight: 6, outChannels: 8, kernelHeight: 3, padHeight: 1)
    XCTAssertEqual(try backend.prepare(unpadded, weights: .random(for: unpadded, seed: 0), config: .default).workspaceBytes, 0)
    XCTAssertEqual(try backend.prepare(padded, weights: .random(for: padded, seed: 0), config: .default).workspaceBytes,
                   8 * 8 * 8 * MemoryLayout<Float>.size)
  }

  func testRegistered() {
    XCTAssertEqual(BackendRegistry.named("tiled-simd")?.availability, .available)
  }

  // MARK: - PackedGemm

  /// Sizes around the register tiles (4–8 rows), the vectors (8, 16) and the panels (16–32).
  private static let gemmSizes = [1, 5, 16, 17, 31, 33, 64]

  /// `PackedGemm.multiply` against a Float64 triple loop, over every (m, n, k) in
  /// `gemmSizes`³ on the machine's GEMM tile, and a smaller set on every tile
  /// of the table, with accumulate, bias, residual and ReLU varied and padded strides.
  func testGemmMatchesTripleLoop() {
    var rng = SeededGenerator(seed: 11)
    var index = 0
    for m in Self.gemmSizes {
      for n in Self.gemmSizes {
        for k in Self.gemmSizes {
          checkGemm(m: m, n: n, k: k, variant: index, tile: PackedGemm.defaultTile(on: .current), rng: &rng)
          index += 1
        }
      }
    }
    for tile in KernelTable.tiles {
      for (m, n, k) in [(1, 1, 1), (5, 17, 33), (17, 33, 5), (31, 64, 16)] {
        checkGemm(m: m, n: n, k: k, variant: index, tile: tile, rng: &rng)
        index += 1
      }
    }
  }

  /// The strips of a product: they cover the rows exactly, each height has a
  /// tile of its own, and no more rows are computed than with full strips and
  /// a 4-row tile for a short last one (the previous cut); 25 rows on a 6-row
  /// tile are five strips of 5.
  func testGemmStripsAreBalanced() {
    func computed(_ rows: Int, main: Int) -> Int {
      rows == main ? main : rows <= PackedGemm.shortRows ? PackedGemm.shortRows
        : rows == PackedGemm.middleRows && main > PackedGemm.middleRows ? PackedGemm.middleRows : main
    }
    for main in [4, 5, 6, 8, 12, 16] {
      for m in 1...200 {
        var (left, strips, cost) = (m, [Int](), 0)
        while left > 0 {
          let rows = PackedGemm.stripRows(remaining: left, mainRows: main)
          XCTAssert((1...min(main, left)).contains(rows), "main \(main), m \(m): a strip of \(rows) rows with \(left) left")
          if !(1...min(main, left)).contains(rows) { return }
          strips.append(rows)
          cost += computed(rows, main: main)
          left -= rows
        }
        var (oldLeft, oldCost) = (m, 0)
        while oldLeft > 0 {
          let rows = min(main, oldLeft)
          oldCost += computed(rows, main: main)
          oldLeft -= rows
        }
        XCTAssertLessThanOrEqual(cost, oldCost, "main \(main), m \(m): strips \(strips)")
      }
    }
    var (left, strips) = (25, [Int]())
    while left > 0 { strips.append(PackedGemm.stripRows(remaining: left, mainRows: 6)); left -= strips.last! }
    XCTAssertEqual(strips, [5, 5, 5, 5, 5])
  }

  /// Sizes that cross the row block (128) and the reduction block (256).
  func testGemmAcrossCacheBlocks() {
    var rng = SeededGenerator(seed: 12)
    for (index, (m, n, k)) in [(200, 70, 600), (129, 33, 257), (300, 96, 512), (25, 256, 256), (49, 40, 300)].enumerated() {
      for variant in 0..<4 {
        checkGemm(m: m, n: n, k: k, variant: index * 4 + variant, tile: PackedGemm.defaultTile(on: .current), rng: &rng)
      }
    }
  }

  /// One product; `variant` picks the epilogue switches and the padding of the strides.
  private func checkGemm(m: Int, n: Int, k: Int, variant: Int, tile: RegisterTile, rng: inout SeededGenerator,
                         file: StaticString = #filePath, line: UInt = #line) {
    let accumulate = variant % 2 == 1, useBias = variant % 3 != 0, useResidual = variant % 4 >= 2, relu = variant % 5 < 3
    let lda = k + variant % 3, ldb = n + variant % 2, ldc = n + variant % 4, ldr = n + 1
    let a = rng.normals(m * lda), bSource = rng.normals(k * ldb)
    let bias = rng.normals(n), residual = rng.normals(m * ldr), initial = rng.normals(m * ldc)
    var c = initial
    let packed = bSource.withUnsafeBufferPointer { PackedGemmB(k: k, n: n, source: $0.baseAddress!, ldb: ldb, tile: tile) }
    a.withUnsafeBufferPointer { pa in
      bias.withUnsafeBufferPointer { pb in
        residual.withUnsafeBufferPointer { pr in
          c.withUnsafeMutableBufferPointer { pc in
            PackedGemm.multiply(.init(
              m: m, a: pa.baseAddress!, lda: lda, b: packed, c: pc.baseAddress!, ldc: ldc, accumulate: accumulate,
              bias: useBias ? pb.baseAddress! : nil, residual: useResidual ? pr.baseAddress! : nil, ldr: ldr, relu: relu))
          }
        }
      }
    }
    var worst = 0.0
    var wrotePadding = false
    for i in 0..<m {
      for j in 0..<n {
        var sum = accumulate ? Double(initial[i * ldc + j]) : 0
        for l in 0..<k { sum += Double(a[i * lda + l]) * Double(bSource[l * ldb + j]) }
        if useBias { sum += Double(bias[j]) }
        if useResidual { sum += Double(residual[i * ldr + j]) }
        if relu { sum = max(sum, 0) }
        worst = max(worst, abs(Double(c[i * ldc + j]) - sum) / max(1, abs(sum)))
      }
      // Columns of C past n belong to the caller.
      for j in n..<ldc where c[i * ldc + j] != initial[i * ldc + j] { wrotePadding = true }
    }
    let what = "\(tile) m=\(m) n=\(n) k=\(k) accumulate=\(accumulate) bias=\(useBias) residual=\(useResidual) relu=\(relu)"
    XCTAssertFalse(wrotePadding, "\(what): wrote past column n", file: file, line: line)
    XCTAssertLessThanOrEqual(worst, Tolerance.direct(reductionLength: k + 2), what, file: file, line: line)
  }
}
