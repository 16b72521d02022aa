import ConvCore

/// Measures the machine's FP32 fused-multiply-add peak: the ceiling that
/// every GFLOP/s figure is reported against ("% of peak").
///
/// Each thread runs a loop of independent SIMD16 FMA chains. An FMA has a
/// latency of about 4 cycles and modern cores issue two per cycle, so at least
/// 8 chains must be in flight to keep both pipes busy; 12 leaves headroom and
/// still fits the 32 vector registers of AVX-512 without spills.
public enum FMAPeak {
  static let chains = 12
  static let lanes = 16

  /// FMA loop iterations per timed sample (~30 ms on one core of the reference machine).
  static let iterations = 10_000_000

  public struct Result: Sendable, Codable, Equatable {
    /// GFLOP/s (2 flops per lane per FMA) with one thread.
    public var singleThread: Double
    /// GFLOP/s with every thread of the pool running the loop at once.
    public var allThreads: Double
    public var threads: Int
  }

  /// Best of `samples` runs, one thread and then all threads of `pool`.
  public static func measure(pool: ThreadPool, samples: Int = 3) -> Result {
    let flopsPerThread = Double(iterations * chains * lanes * 2)
    var single = 0.0, all = 0.0
    var sink: Float = 0
    for _ in 0..<samples {
      let t1 = Stopwatch.time { sink += chainLoop(iterations: iterations, seed: sink) }
      single = max(single, flopsPerThread / t1 / 1e9)
      var partial = [Float](repeating: 0, count: pool.threadCount)
      let tn = partial.withUnsafeMutableBufferPointer { out in
        Stopwatch.time { pool.parallelFor(pool.threadCount) { i in out[i] = chainLoop(iterations: iterations, seed: Float(i)) } }
      }
      all = max(all, flopsPerThread * Double(pool.threadCount) / tn / 1e9)
      sink += partial.reduce(0, +)
    }
    blackHole(sink)
    return Result(singleThread: single, allThreads: all, threads: pool.threadCount)
  }

  @inline(never)
  static func chainLoop(iterations: Int, seed: Float) -> Float {
    // x ← x + m·c with m·c tiny keeps values finite for any iteration count.
    let m = SIMD16<Float>(repeating: 1e-7), c = SIMD16<Float>(repeating: 0.5)
    var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3
    var a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7
    var a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
    for _ in 0..<iterations {
      a0.addProduct(m, c); a1.addProduct(m, c); a2.addProduct(m, c); a3.addProduct(m, c)
      a4.addProduct(m, c); a5.addProduct(m, c); a6.addProduct(m, c); a7.addProduct(m, c)
      a8.addProduct(m, c); a9.addProduct(m, c); a10.addProduct(m, c); a11.addProduct(m, c)
    }
    let sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
    return sum.sum()
  }
}

/// Keeps a value alive so the optimiser cannot delete the work that produced it.
@inline(never)
public func blackHole<T>(_ value: T) {
  withExtendedLifetime(value) {}
}
