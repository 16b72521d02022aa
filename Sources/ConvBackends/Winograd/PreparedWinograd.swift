import ConvCore
import Synchronization

/// One stride-1 3×3 convolution prepared for Winograd F(m×m, 3×3), m = 2, 3 or 4.
///
/// `prepare` computes U = G·g·Gᵀ for every (output, input) channel pair of
/// every group and packs it as α²·groups matrices [C/g × OC/g], one per
/// transformed element ξ and group.
/// A run then takes the output tiles block by block (see `WinogradTiling`):
///
/// 1. input transform: V[ξ][tile][c] = (Bᵀ·d·B)[ξ] for the block's tiles, NHWC
///    input read sixteen channels at a time, zero outside the image;
/// 2. products: M[ξ] = V[ξ] · U[ξ] for each ξ, group by group
///    ([tiles × C/g]·[C/g × OC/g] on a column slice, `PackedGemm`);
/// 3. output transform: Aᵀ·M·A per tile and sixteen output channels, plus bias,
///    residual and ReLU, stored straight into the NHWC output (pixels past the
///    output's right and bottom edges dropped).
///
/// Workspace (64-byte aligned), for at most `maxThreads` threads: first
/// `maxThreads` thread areas of `threadAreaFloats` floats, each holding the
/// thread's phase times (three `Double`s in the first cache line, so threads
/// never share a line), a gathered edge tile and the transforms' scratch (α²
/// vectors each) and one output tile (m² vectors); then one block's V and M per
/// thread with `WinogradSplit.blocks`, or one shared V and M with
/// `WinogradSplit.phases`. A pool with more threads than `maxThreads` runs on
/// `maxThreads` of them.
final class PreparedWinograd: PreparedConvolution, @unchecked Sendable {
  /// Floats of the phase-time record at the start of a thread area: one cache line.
  static var timingFloats: Int { 16 }
  static var phaseNames: [String] { ["input transform", "products", "output transform"] }

  let problem: ConvProblem
  let config: BackendConfig
  let workspaceBytes: Int
  let maxThreads: Int
  /// Floats of one thread's area (see the type's comment).
  private let threadAreaFloats: Int
  private let tiling: WinogradTiling
  private let split: WinogradSplit
  /// U[ξ][g], ξ ∈ 0..<α², g ∈ 0..<groups, at `ξ·groups + g`: [C/g × OC/g] packed for `PackedGemm`.
  private let filters: [PackedGemmB]
  /// `outChannels` values zero-padded to `tiling.productRowStride`, so the
  /// output transform reads bias with full vector loads.
  private let bias: AlignedBuffer
  /// Seconds of (input transform, products, output transform) of the last run.
  private let phaseLog = Mutex<(Double, Double, Double)?>(nil)
  /// The blocks (or items of a shared phase) not yet taken: slot 0 takes from
  /// the front, the other slots from the back; reset before each parallel loop.
  private let claims = TwoEndedClaims()

  /// The algorithm, by output tile.
  private let algorithm: WinogradAlgorithm
  /// The register tile of the products.
  private let gemmTile: RegisterTile
  /// Whether each product prefetches the next one's filters (see `multiply`).
  private let prefetchesFollowing: Bool

  init(problem p: ConvProblem, weights: ConvWeights, config: BackendConfig, algorithm: WinogradAlgorithm, blockTiles: Int,
       split: WinogradSplit, maxThreads: Int, gemmTile: RegisterTile, cacheBytes: Int) {
    problem = p
    self.config = config
    self.split = split
    self.maxThreads = maxThreads
    self.algorithm = algorithm
    self.gemmTile = gemmTile
    tiling = WinogradTiling(problem: p, outputTile: algorithm.outputTile, blockTiles: blockTiles)
    let vector = WinogradVector.scalarCount
    threadAreaFloats = Self.timingFloats + (2 * tiling.elementCount + algorithm.outputTile * algorithm.outputTile) * vector
    let scratchBlocks = split == .blocks ? maxThreads : 1
    workspaceBytes = (maxThreads * threadAreaFloats
      + scratchBlocks * (tiling.inputBlockFloats + tiling.productBlockFloats)) * MemoryLayout<Float>.stride

    let (c, k, elements, groups) = (p.groupInChannels, p.groupOutChannels, tiling.elementCount, p.groups)
    let transformed = AlignedBuffer(count: elements * groups * c * k)
    switch algorithm {
    case .f4x3: Self.transformFilters(WinogradF4x3Transforms.self, p, weights, into: transformed.pointer)
    case .f3x3: Self.transformFilters(WinogradF3x3Transforms.self, p, weights, into: transformed.pointer)
    case .f2x3: Self.transformFilters(WinogradF2x3Transforms.self, p, weights, into: transformed.pointer)
    }
    filters = (0..<elements * groups).map { i in
      PackedGemmB(k: c, n: k, source: transformed.pointer + i * c * k, ldb: k, tile: gemmTile)
    }
    bias = AlignedBuffer(count: tiling.productRowStride)
    for o in 0..<p.outChannels { bias.pointer[o] = weights.bias[o] }
    // Filters that fit the per-core cache are read from it by every block
    // after the first, and prefetching them again only costs requests:
    // measured on the 56×56 × 64 layers (590 KB of filters, blocks of 8
    // tiles) at 1 thread, 1.04–1.08× slower with it; on the 28×28 × 128
    // (2.4 MB) and larger ones 0.87–0.96×.
    prefetchesFollowing = filters.reduce(0) { $0 + $1.storage.count } * MemoryLayout<Float>.stride > cacheBytes
  }

  var packedWeightBytes: Int { (filters.reduce(0) { $0 + $1.storage.count } + bias.count) * MemoryLayout<Float>.stride }
  var packedWeightBuffers: [AlignedBuffer] { filters.map(\.storage) + [bias] }
  /// The residual is read only by the output stage, element by element just
  /// before the same element of the output is stored; the input transform
  /// reads the input, never the output.
  var residualInPlace: Bool { true }

  /// Per-phase times of the last run, in seconds, each summed over the threads
  /// that worked on it (so with several threads they add up to more than the
  /// run's wall time). Each thread reads the clock once per phase of a block.
  var lastPhaseTimes: PhaseTimes? {
    guard let (input, products, output) = phaseLog.withLock({ $0 }) else { return nil }
    return PhaseTimes([(Self.phaseNames[0], input), (Self.phaseNames[1], products), (Self.phaseNames[2], output)])
  }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    switch algorithm {
    case .f4x3:
      execute(WinogradF4x3Transforms.self, input: input, output: output, residual: residual, relu: relu,
              workspace: workspace, pool: pool)
    case .f3x3:
      execute(WinogradF3x3Transforms.self, input: input, output: output, residual: residual, relu: relu,
              workspace: workspace, pool: pool)
    case .f2x3:
      execute(WinogradF2x3Transforms.self, input: input, output: output, residual: residual, relu: relu,
              workspace: workspace, pool: pool)
    }
  }

  /// U[ξ][g] = (G·g·Gᵀ)[ξ] for every filter, as α²·groups row-major
  /// [C/g × OC/g] matrices at `u`, matrix (ξ, g) at `(ξ·groups + g)·C/g·OC/g`.
  private static func transformFilters<T: WinogradTransforms>(
    _: T.Type, _ p: ConvProblem, _ weights: ConvWeights, into u: UnsafeMutablePointer<Float>
  ) {
    let (c, k, groups) = (p.groupInChannels, p.groupOutChannels, p.groups)
    weights.weights.withUnsafeBufferPointer { w in
      for o in 0..<p.outChannels {
        let g = o / k, local = o % k
        for i in 0..<c {
          let filter = (o * c + i) * 9
          T.transformFilter({ row, col in Double(w[filter + row * 3 + col]) }, { e, value in
            u[((e * groups + g) * c + i) * k + local] = Float(value)
          })
        }
      }
    }
  }

  /// One thread's share of the workspace.
  fileprivate struct ThreadArea {
    /// Seconds spent in (input transform, products, output transform).
    let times: UnsafeMutablePointer<Double>
    /// α² vectors: an edge tile gathered with zeros outside the image.
    let gathered: UnsafeMutablePointer<Float>
    /// α² vectors for the 2-D transforms.
    let scratch: UnsafeMutablePointer<Float>
    /// m² vectors: one transformed output tile.
    let outputTile: UnsafeMutablePointer<Float>
  }

  fileprivate func threadArea(_ slot: Int, in workspace: UnsafeMutablePointer<Float>) -> ThreadArea {
    let base = workspace + slot * threadAreaFloats
    let tileFloats = tiling.elementCount * WinogradVector.scalarCount
    let gathered = base + Self.timingFloats
    return ThreadArea(
      times: UnsafeMutableRawPointer(base).bindMemory(to: Double.self, capacity: 3),
      gathered: gathered, scratch: gathered + tileFloats, outputTile: gathered + 2 * tileFloats)
  }

  /// The run, specialised for one tile size.
  private func execute<T: WinogradTransforms>(
    _ transforms: T.Type, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool, workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    let threads = min(pool.threadCount, maxThreads)
    let floats = workspace.bindMemory(to: Float.self, capacity: workspaceBytes / MemoryLayout<Float>.stride)
    for slot in 0..<threads { threadArea(slot, in: floats).times.update(repeating: 0, count: 3) }
    let blocks = floats + maxThreads * threadAreaFloats
    let blockFloats = tiling.inputBlockFloats + tiling.productBlockFloats
    let stage = WinogradOutputStage(
      output: output, residual: residual, relu: relu, channels: problem.outChannels, width: problem.outWidth)

    switch split {
    case .blocks:
      claims.reset(count: tiling.blockCount)
      pool.parallelFor(min(threads, tiling.blockCount), WinogradBlockTasks<T>(
        owner: self, input: input, stage: stage, workspace: floats, blocks: blocks, blockFloats: blockFloats))
    case .phases:
      let v = blocks, m = blocks + tiling.inputBlockFloats
      for b in 0..<tiling.blockCount {
        let tiles = tiling.tiles(ofBlock: b)
        for (phase, count) in [(0, tiles.count), (1, tiling.elementCount), (2, tiles.count)] {
          claims.reset(count: count)
          pool.parallelFor(min(threads, count), WinogradPhaseTasks<T>(
            owner: self, phase: phase, count: count, tiles: tiles, input: input, v: v, m: m, stage: stage, workspace: floats))
        }
      }
    }

    var sums = (0.0, 0.0, 0.0)
    for slot in 0..<threads {
      let times = threadArea(slot, in: floats).times
      sums.0 += times[0]
      sums.1 += times[1]
      sums.2 += times[2]
    }
    phaseLog.withLock { $0 = sums }
  }

  /// Whole blocks, taken one after another from `claims`, by the thread
  /// in `slot`: all three phases of a block in that thread's own scratch.
  fileprivate func runBlocks<T: WinogradTransforms>(
    _: T.Type, slot: Int, input: UnsafePointer<Float>, stage: WinogradOutputStage,
    workspace floats: UnsafeMutablePointer<Float>, blocks: UnsafeMutablePointer<Float>, blockFloats: Int
  ) {
    let area = threadArea(slot, in: floats)
    let v = blocks + slot * blockFloats, m = v + tiling.inputBlockFloats
    while let b = claims.claim(fromBack: slot > 0) {
      let tiles = tiling.tiles(ofBlock: b)
      let start = MonotonicClock.now()
      for t in tiles { transformInput(T.self, tile: t, row: t - tiles.lowerBound, input: input, into: v, area) }
      let transformed = MonotonicClock.now()
      for e in 0..<tiling.elementCount {
        multiply(element: e, following: e + 1 < tiling.elementCount ? e + 1 : nil, tiles: tiles.count, v: v, m: m)
      }
      let multiplied = MonotonicClock.now()
      for t in tiles { transformOutput(T.self, tile: t, row: t - tiles.lowerBound, products: m, stage, area) }
      let finished = MonotonicClock.now()
      area.times[0] += transformed - start
      area.times[1] += multiplied - transformed
      area.times[2] += finished - multiplied
    }
  }

  /// One phase of a shared block by the thread in `slot`: items (tiles, or
  /// transformed elements for the products) taken one after another from
  /// `claims`; the thread's time goes to entry `phase` of its area's times.
  fileprivate func runPhase<T: WinogradTransforms>(
    _: T.Type, phase: Int, slot: Int, count: Int, tiles: Range<Int>, input: UnsafePointer<Float>,
    v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, stage: WinogradOutputStage,
    workspace floats: UnsafeMutablePointer<Float>
  ) {
    let area = threadArea(slot, in: floats)
    let start = MonotonicClock.now()
    while let i = claims.claim(fromBack: slot > 0) {
      switch phase {
      case 0: transformInput(T.self, tile: tiles.lowerBound + i, row: i, input: input, into: v, area)
      // Slot 0 claims elements upwards, the others downwards (`claims`).
      case 1: multiply(element: i, following: slot > 0 ? (i > 0 ? i - 1 : nil) : (i + 1 < count ? i + 1 : nil),
                       tiles: tiles.count, v: v, m: m)
      default: transformOutput(T.self, tile: tiles.lowerBound + i, row: i, products: m, stage, area)
      }
    }
    area.times[phase] += MonotonicClock.now() - start
  }

  /// Bᵀ·d·B of tile `t` into row `row` of the α² planes at `v`. Tiles that
  /// reach past the input, and channel runs shorter than a vector, are first
  /// gathered into a zero-padded tile.
  @inline(__always)
  fileprivate func transformInput<T: WinogradTransforms>(
    _: T.Type, tile t: Int, row: Int, input: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>,
    _ area: ThreadArea
  ) {
    let p = problem
    let (h, w, c) = (p.inHeight, p.inWidth, p.inChannels)
    let (n, oy, ox) = tiling.origin(ofTile: t)
    let y0 = oy - p.padTop, x0 = ox - p.padLeft
    let alpha = T.inputTile, width = WinogradVector.scalarCount
    let interior = y0 >= 0 && x0 >= 0 && y0 + alpha <= h && x0 + alpha <= w
    let image = input + n * h * w * c
    let destination = v + row * tiling.inputRowStride
    var cv = 0
    while cv < c {
      let lanes = min(width, c - cv)
      if interior && lanes == width {
        T.transformInput(image + (y0 * w + x0) * c + cv, rowStride: w * c, columnStride: c,
                         into: destination + cv, elementStride: tiling.inputPlaneStride, scratch: area.scratch)
      } else {
        for r in 0..<alpha {
          for s in 0..<alpha {
            let y = y0 + r, x = x0 + s
            let inside = y >= 0 && y < h && x >= 0 && x < w
            let value = inside ? VectorMemory.load(image + (y * w + x) * c + cv, count: lanes) : WinogradVector()
            VectorMemory.store(value, area.gathered + (r * alpha + s) * width)
          }
        }
        T.transformInput(area.gathered, rowStride: alpha * width, columnStride: width,
                         into: destination + cv, elementStride: tiling.inputPlaneStride, scratch: area.scratch)
      }
      cv += width
    }
  }

  /// M[ξ] = V[ξ] · U[ξ] for the first `tiles` rows of plane ξ = `element`,
  /// one product per group on its slice of the channels.
  /// `following` is the element the thread multiplies next, if any.
  @inline(__always)
  fileprivate func multiply(element e: Int, following: Int?, tiles: Int, v: UnsafeMutablePointer<Float>,
                            m: UnsafeMutablePointer<Float>) {
    let (groups, c, k) = (problem.groups, problem.groupInChannels, problem.groupOutChannels)
    for g in 0..<groups {
      // The product this thread runs next (the next group's, or the
      // following element's first) has its filters prefetched during this
      // one's last panel.
      let next = g + 1 < groups ? e * groups + g + 1 : following.map { $0 * groups } ?? filters.count
      PackedGemm.multiply(.init(
        m: tiles, a: v + e * tiling.inputPlaneStride + g * c, lda: tiling.inputRowStride, b: filters[e * groups + g],
        c: m + e * tiling.productPlaneStride + g * k, ldc: tiling.productRowStride, accumulate: false,
        bias: nil, residual: nil, ldr: tiling.productRowStride, relu: false,
        following: prefetchesFollowing && next < filters.count ? filters[next] : nil))
    }
  }

  /// Aᵀ·M·A of tile `t` (row `row` of the α² planes at `products`), with the
  /// epilogue, into the output.
  @inline(__always)
  fileprivate func transformOutput<T: WinogradTransforms>(
    _: T.Type, tile t: Int, row: Int, products: UnsafeMutablePointer<Float>, _ stage: WinogradOutputStage,
    _ area: ThreadArea
  ) {
    let p = problem
    let (oh, ow, k) = (p.outHeight, p.outWidth, p.outChannels)
    let (n, oy, ox) = tiling.origin(ofTile: t)
    let m = T.outputTile, width = WinogradVector.scalarCount
    let rows = min(m, oh - oy), columns = min(m, ow - ox)
    let source = products + row * tiling.productRowStride
    let first = ((n * oh + oy) * ow + ox) * k
    var kv = 0
    while kv < k {
      T.transformOutput(source + kv, elementStride: tiling.productPlaneStride, into: area.outputTile, scratch: area.scratch)
      stage.store(area.outputTile, side: m, rows: rows, columns: columns, lanes: min(width, k - kv),
                  offset: first + kv, bias: VectorMemory.load(bias.pointer + kv))
      kv += width
    }
  }
}

/// The `.blocks` split: one task per thread slot.
private struct WinogradBlockTasks<T: WinogradTransforms>: ParallelTask {
  let owner: PreparedWinograd
  let input: UnsafePointer<Float>
  let stage: WinogradOutputStage
  let workspace: UnsafeMutablePointer<Float>
  let blocks: UnsafeMutablePointer<Float>
  let blockFloats: Int
  func run(_ slot: Int) {
    owner.runBlocks(T.self, slot: slot, input: input, stage: stage, workspace: workspace, blocks: blocks, blockFloats: blockFloats)
  }
}

/// One phase of the `.phases` split: one task per thread slot.
private struct WinogradPhaseTasks<T: WinogradTransforms>: ParallelTask {
  let owner: PreparedWinograd
  let phase: Int
  let count: Int
  let tiles: Range<Int>
  let input: UnsafePointer<Float>
  let v: UnsafeMutablePointer<Float>
  let m: UnsafeMutablePointer<Float>
  let stage: WinogradOutputStage
  let workspace: UnsafeMutablePointer<Float>
  func run(_ slot: Int) {
    owner.runPhase(T.self, phase: phase, slot: slot, count: count, tiles: tiles, input: input, v: v, m: m, stage: stage,
                   workspace: workspace)
  }
}
