/// Loads and stores of runs of floats as SIMD vectors, full or partial: the
/// one place where a run shorter than a vector (a channel count that is not a
/// multiple of the vector width, the last columns of a panel) is handled.
/// Missing lanes read as zero; lanes past `count` are never written.
///
/// `V` is any SIMD vector of floats (`SIMD8<Float>` or `SIMD16<Float>`); every
/// caller is specialised for one, so `V.scalarCount` is a constant.
enum VectorMemory {
  @inline(__always)
  static func load<V: SIMD>(_ p: UnsafePointer<Float>, as _: V.Type = V.self) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
  }

  /// The first `count` floats at `p` (all lanes when `count ≥ V.scalarCount`), zero past them.
  @inline(__always)
  static func load<V: SIMD>(_ p: UnsafePointer<Float>, count: Int, as _: V.Type = V.self) -> V where V.Scalar == Float {
    if count >= V.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var v = V()
    for l in 0..<max(count, 0) { v[l] = p[l] }
    return v
  }

  @inline(__always)
  static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
  }

  /// Writes the first `count` lanes of `v` (all when `count ≥ V.scalarCount`).
  @inline(__always)
  static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>, count: Int) where V.Scalar == Float {
    if count >= V.scalarCount {
      UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
      return
    }
    for l in 0..<max(count, 0) { p[l] = v[l] }
  }

}

/// The SIMD vectors the kernels are compiled for. ReLU is a requirement
/// rather than generic code: a masked `replacing(with:where:)` (or
/// `pointwiseMax`) written for any `SIMD` vector was measured to compile to
/// lane-by-lane code even when specialised — a 1×1 layer with ReLU ran 4–6×
/// slower than without — while on the concrete type it is one vector max.
protocol KernelVector: SIMD where Scalar == Float {
  /// `max(self, 0)` lane by lane.
  func clampedAtZero() -> Self
}

extension SIMD8: KernelVector where Scalar == Float {
  @inline(__always)
  func clampedAtZero() -> SIMD8<Float> { replacing(with: 0, where: self .< 0) }
}

extension SIMD16: KernelVector where Scalar == Float {
  @inline(__always)
  func clampedAtZero() -> SIMD16<Float> { replacing(with: 0, where: self .< 0) }
}
