#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap block of `Float`s aligned to a cache line (64 bytes, one AVX-512 vector).
///
/// Activations, packed weights and workspaces live in these so that SIMD loads
/// never straddle cache lines at the start of a row and so no backend pays for
/// Swift's copy-on-write checks in its inner loops.
public final class AlignedBuffer: @unchecked Sendable {
  public static let alignment = 64
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>

  /// Allocates `count` floats, zero-filled.
  public init(count: Int) {
    self.count = count
    let bytes = Self.allocatedBytes(count)
    let raw = allocateAligned(bytes: bytes, what: "\(bytes) bytes")
    memset(raw, 0, bytes)
    pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
  }

  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { src in
      if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
    }
  }

  deinit { releaseAligned(UnsafeMutableRawPointer(pointer), bytes: Self.allocatedBytes(count)) }

  /// Bytes allocated for `count` floats (at least one float, so the pointer is never null).
  private static func allocatedBytes(_ count: Int) -> Int { max(1, count) * MemoryLayout<Float>.stride }

  public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
  public var array: [Float] { Array(buffer) }

  public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }
}

/// A block of raw bytes aligned to a cache line, used as a backend's scratch space.
public final class Workspace: @unchecked Sendable {
  public let byteCount: Int
  public let pointer: UnsafeMutableRawPointer

  public init(byteCount: Int) {
    self.byteCount = byteCount
    pointer = allocateAligned(bytes: max(64, byteCount), what: "a \(byteCount)-byte workspace")
  }

  deinit { releaseAligned(pointer, bytes: max(64, byteCount)) }
}

/// Cache-line-aligned memory: from `HugePageArena` when large enough, else `posix_memalign`.
private func allocateAligned(bytes: Int, what: String) -> UnsafeMutableRawPointer {
  if bytes >= HugePageArena.thresholdBytes, HugePageArena.isEnabled, let p = HugePageArena.allocate(bytes: bytes) { return p }
  var raw: UnsafeMutableRawPointer?
  guard posix_memalign(&raw, AlignedBuffer.alignment, bytes) == 0, let raw else {
    fatalError("out of memory allocating \(what)")
  }
  return raw
}

private func releaseAligned(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
  if bytes >= HugePageArena.thresholdBytes, HugePageArena.free(pointer) { return }
  free(pointer)
}
