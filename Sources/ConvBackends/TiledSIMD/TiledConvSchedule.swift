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
  }

  var taskCount: Int { pixelBlocks * panelGroups }

  /// The register tiles and panels of task `t`, as near-equal shares.
  func task(_ t: Int) -> (tiles: Range<Int>, panels: Range<Int>) {
    let b = t / panelGroups, g = t % panelGroups
    return (Self.share(b, of: pixelBlocks, total: tiles), Self.share(g, of: panelGroups, total: panels))
  }

  /// Part `i` of `parts` near-equal contiguous parts of `0..<total`.
  private static func share(_ i: Int, of parts: Int, total: Int) -> Range<Int> {
    (i * total / parts)..<((i + 1) * total / parts)
  }
}
