#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Large buffers carved out of 2 MiB-aligned chunks that the kernel is asked
/// to back with transparent huge pages (`madvise(MADV_HUGEPAGE)`).
///
/// A batch-1 ResNet-50 on the Keras 1-thread plan streams about 200 MB of
/// packed weights per inference (its Winograd filters, counted from their
/// shapes, are about 140 MB): in 4 KiB pages about 51,000 translations per
/// pass, far beyond the second-level TLB's 3,072 entries on Zen 4, so nearly
/// every page of weights costs a page walk. In 2 MiB pages the whole
/// network is about 100 translations. glibc's own large allocations are
/// separate 4 KiB-aligned mappings, which the kernel backs with huge pages
/// only when THP is `always`; this machine's default is `madvise`.
///
/// Chunks are `chunkBytes` (or one allocation rounded up to 2 MiB, when it is
/// larger); allocations are bumped from the newest chunk, 64-byte aligned, and
/// a chunk is unmapped once every allocation in it is freed and it is no
/// longer the one being filled. Where `madvise` is refused (THP `never`, or
/// not Linux) the chunks are still ordinary memory, so nothing depends on it.
public enum HugePageArena {
  /// Allocations at least this large come from the arena (smaller ones stay
  /// with `malloc`, where they share pages with their neighbours anyway).
  public static let thresholdBytes = 64 << 10
  public static let hugePageBytes = 2 << 20
  /// 8 MiB: a chunk stays mapped while any buffer in it lives, so long-lived
  /// buffers pin the holes freed around them. Against 32 MiB chunks, measured
  /// side by side: `tune --variant keras --threads 1 --budget 20` peaked at
  /// 1.19 GB resident against 1.46–1.52 GB, `run` at 723 against 926 MB, and
  /// the A/B gate (1 thread, Keras plan, 16 pairs) timed the plan at 0.990
  /// (0.971–1.004), tiled-simd 0.988 (0.967–1.015), winograd 1.002 (0.980–1.022).
  static let chunkBytes = 8 << 20
  /// False when the environment sets `RESNET_BENCH_HUGE_PAGES=off` (every buffer then comes from `malloc`).
  public static let isEnabled: Bool = getenv("RESNET_BENCH_HUGE_PAGES").map { String(cString: $0) != "off" } ?? true

  private final class Chunk: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let bytes: Int
    var used = 0
    var live = 0
    init(base: UnsafeMutableRawPointer, bytes: Int) {
      self.base = base
      self.bytes = bytes
    }
    func contains(_ p: UnsafeMutableRawPointer) -> Bool { p >= base && p < base + bytes }
  }

  private struct State: @unchecked Sendable {
    var chunks: [Chunk] = []
    var current: Chunk?
  }

  private static let state = Mutex(State())

  /// Bytes currently mapped by the arena (for the tests).
  public static var mappedBytes: Int { state.withLock { $0.chunks.reduce(0) { $0 + $1.bytes } } }

  /// `bytes` (> 0) of memory aligned to `AlignedBuffer.alignment`, or nil when
  /// the mapping fails (the caller then falls back to `posix_memalign`).
  public static func allocate(bytes: Int) -> UnsafeMutableRawPointer? {
    let size = roundUp(bytes, to: AlignedBuffer.alignment)
    return state.withLock { s -> UnsafeMutableRawPointer? in
      if let c = s.current, c.bytes - c.used >= size {
        let p = c.base + c.used
        c.used += size
        c.live += 1
        return p
      }
      let bytes = max(chunkBytes, roundUp(size, to: hugePageBytes))
      guard let base = mapAligned(bytes: bytes) else { return nil }
      let chunk = Chunk(base: base, bytes: bytes)
      chunk.used = size
      chunk.live = 1
      s.chunks.append(chunk)
      // A chunk made for one oversized allocation is not filled further; a
      // new shared chunk replaces the current one, which goes if it is empty.
      if bytes == chunkBytes {
        if let old = s.current, old.live == 0 { release(old, from: &s) }
        s.current = chunk
      }
      return base
    }
  }

  /// Gives `pointer` back: true if the arena gave it out, false (and nothing done) if not.
  public static func free(_ pointer: UnsafeMutableRawPointer) -> Bool {
    state.withLock { s -> Bool in
      guard let chunk = s.chunks.first(where: { $0.contains(pointer) }) else { return false }
      chunk.live -= 1
      if chunk.live == 0 && chunk !== s.current { release(chunk, from: &s) }
      return true
    }
  }

  private static func release(_ chunk: Chunk, from s: inout State) {
    s.chunks.removeAll { $0 === chunk }
    munmap(chunk.base, chunk.bytes)
  }

  /// An anonymous mapping of `bytes` (a multiple of 2 MiB) at a 2 MiB-aligned
  /// address: one huge page more is mapped, and the unaligned ends are unmapped.
  private static func mapAligned(bytes: Int) -> UnsafeMutableRawPointer? {
    let span = bytes + hugePageBytes
    guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
          raw != MAP_FAILED else { return nil }
    let address = Int(bitPattern: raw)
    let head = roundUp(address, to: hugePageBytes) - address, tail = span - head - bytes
    if head > 0 { munmap(raw, head) }
    let base = raw + head
    if tail > 0 { munmap(base + bytes, tail) }
    #if os(Linux)
    _ = madvise(base, bytes, 14)  // MADV_HUGEPAGE
    #endif
    return base
  }

  /// `n` (≥ 0) rounded up to a multiple of `multiple`.
  private static func roundUp(_ n: Int, to multiple: Int) -> Int { (n + multiple - 1) / multiple * multiple }
}
