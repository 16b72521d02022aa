import _CacheShims

/// Evicts memory from every cache level, line by line (x86 `clflush`), then
/// fences, so the next run reads it from DRAM.
///
/// This is how a measurement of one layer can stand for that layer inside a
/// network: ResNet-50's weights are about 100 MB, several times the last-level
/// cache, so every layer's weights arrive from memory at every inference,
/// while its input was just written by the layer before. Timing a layer
/// alone with warm weights favours whatever reads more weight bytes (a
/// Winograd F(4×4, 3×3) filter bank is four times the direct one) and cuts
/// of the work that read the weights several times. benchdnn's
/// `--cold-cache=wei` is the same idea; it rotates several copies of the
/// weights instead of flushing them.
public enum CacheEviction {
  public static let lineBytes = 64

  /// Evicts every line of `buffers`.
  public static func evict(_ buffers: [AlignedBuffer]) {
    for buffer in buffers {
      let start = UnsafeRawPointer(buffer.pointer)
      let bytes = buffer.count * MemoryLayout<Float>.stride
      var offset = 0
      while offset < bytes {
        resnet_bench_flush_line(start + offset)
        offset += lineBytes
      }
    }
    resnet_bench_memory_fence()
  }

  /// The bytes `evict` would flush.
  public static func bytes(_ buffers: [AlignedBuffer]) -> Int {
    buffers.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
  }
}
