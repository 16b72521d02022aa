import ConvCore

/// How one run of a tiled convolution is cut into parallel tasks: a grid of
/// pixel blocks (runs of consecutive output pixels, flattened over batch, rows
/// and columns, in whole register tiles) × panel groups (runs of output-channel
/// panels, across convolution groups). Tasks are numbered pixel-block-major.
struct TiledConvSchedule: Sendable {
  /// Register tiles (of `pixelTile` output pixels) in the whole output.
  let tiles: Int
  let pixelBlocks: Int
  let panels: Int
  let panelGroups: Int

  /// Tasks handed to each thread when there are several, so the pool's
  /// dynamic dispatch can even out tasks of unequal cost (edge tiles, cache
  /// misses, a core lent to another process): the threads wait for each other
  /// at the end of every layer, on average for part of one task. 8 against 4
  /// measured 0.98× at 2 threads in-network (ResNet-50, A/B gate, twice), the
  /// interval reaching 1.01.
  static let tasksPerThread = 8
  /// Tasks on one thread (pixel blocks, or panel groups when split by
  /// panels), where there is nothing to balance: the count measured before
  /// (fewer pixel blocks re-read the weights fewer times, but the cache bound
  /// below sets the block size on most layers anyway).
  static let blocksOnOneThread = 4

  /// - Parameter machine: a pixel block may touch half of one core's L2 of
  ///   input per channel block, so the block stays resident while every panel
  ///   of the task reuses it.
  init(problem p: ConvProblem, config: TiledConvConfiguration, panels: Int, threads: Int, machine: MachineModel) {
    let pixels = p.batch * p.outHeight * p.outWidth
    tiles = (pixels + config.pixelTile - 1) / config.pixelTile
    self.panels = panels
    let wanted = threads > 1 ? threads * Self.tasksPerThread : Self.blocksOnOneThread
    let inputBlockBytes = max(machine.l2Bytes / 2, 1)
    // Bytes of input one output pixel brings into cache per channel block (the
    // halo of the kernel window is shared with neighbouring pixels and ignored).
    let bytesPerPixel = config.channelBlock(for: p.groupInChannels) * p.groups * p.strideHeight * p.strideWidth
      * MemoryLayout<Float>.size
    let cacheBlocks = (pixels * bytesPerPixel + inputBlockBytes - 1) / inputBlockBytes
    var blocks: Int, groups: Int
    switch config.split {
    case .pixels:
      blocks = max(wanted, cacheBlocks)
      groups = 1
    case .panels:
      blocks = cacheBlocks
      groups = wanted
    case .both:
      groups = min(panels, threads)
      blocks = max(cacheBlocks, (wanted + groups - 1) / groups)
    }
    pixelBlocks = max(1, min(blocks, tiles))
    panelGroups = max(1, min(groups, panels))
    tapered = threads == 2
  }

  var taskCount: Int { pixelBlocks * panelGroups }

  /// Whether the tasks shrink towards the middle of the task list (see `taperedShare`).
  let tapered: Bool

  /// The register tiles and panels of task `t`: near-equal shares, or with
  /// `tapered` tasks that shrink towards the middle of the list in the
  /// dimension that makes the list (the pixel blocks, or the panel groups
  /// when the pixels are one block).
  func task(_ t: Int) -> (tiles: Range<Int>, panels: Range<Int>) {
    let b = t / panelGroups, g = t % panelGroups
    let taperBlocks = tapered && pixelBlocks >= Self.minimumTaperedParts
    let taperGroups = tapered && pixelBlocks == 1 && panelGroups >= Self.minimumTaperedParts
    return (Self.share(b, of: pixelBlocks, total: tiles, tapered: taperBlocks),
            Self.share(g, of: panelGroups, total: panels, tapered: taperGroups))
  }

  /// Fewest parts worth tapering.
  static let minimumTaperedParts = 4

  /// Part `i` of `parts` contiguous parts of `0..<total`: near-equal, or
  /// tapered when asked and every part can have at least one unit.
  static func share(_ i: Int, of parts: Int, total: Int, tapered: Bool = false) -> Range<Int> {
    if tapered, let range = taperedShare(i, of: parts, total: total) { return range }
    return (i * total / parts)..<((i + 1) * total / parts)
  }

  /// Part `i` of `parts` parts whose sizes fall linearly from the ends of
  /// `0..<total` to its middle, the end parts up to `maximumTaper` times the
  /// middle ones (less when `total` is too small for every part to keep at
  /// least one unit); nil when it cannot taper at all.
  ///
  /// With two threads the caller takes tasks from the front of the list and
  /// the worker from the back (`ThreadPool`), so they meet near the middle,
  /// and the one that finishes first waits for the other's last task: on
  /// average half a task. With equal tasks (16 per layer on two threads)
  /// that is about 1/32 of the layer; the pool's busy-time accounting
  /// measured 2–5% idle in every layer of ResNet-50 at 2 threads. With the
  /// full taper the tasks met in the middle are 1/72 of the layer and the
  /// first and last, which no one waits for, 8/72. Measured with the A/B
  /// gate at 2 threads (22 quiet pairs): networks 0.983 (0.961–1.002) on
  /// tiled-simd and 0.996 (0.974–1.014) on winograd; busy time 97.4% of the
  /// layers' against 97.1%.
  static func taperedShare(_ i: Int, of parts: Int, total: Int) -> Range<Int>? {
    guard parts >= 3, i >= 0, i < parts else { return nil }
    let inner = Double((parts - 1) / 2)
    // Weights run from `taper` at the ends to 1 in the middle and sum to
    // about parts·(1 + taper)/2; every part keeps a unit while that is at most `total`.
    let taper = min(Double(maximumTaper), 2 * Double(total) / Double(parts) - 1)
    guard taper >= 1.5 else { return nil }
    func weight(_ k: Int) -> Double { taper - (taper - 1) * Double(min(k, parts - 1 - k)) / inner }
    var sum = 0.0, before = 0.0
    for k in 0..<parts {
      if k == i { before = sum }
      sum += weight(k)
    }
    func bound(_ w: Double) -> Int { min(total, Int((w / sum * Double(total)).rounded())) }
    let lower = bound(before), upper = i == parts - 1 ? total : bound(before + weight(i))
    return lower..<max(lower, upper)
  }

  /// How many times the end tasks' size the middle ones may be.
  static let maximumTaper = 8
}
