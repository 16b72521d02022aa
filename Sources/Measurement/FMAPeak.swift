import ConvCore

/// Measures the machine's FP32 fused-multiply-add peak: the ceiling that
/// every GFLOP/s figure is reported against ("% of peak").
///
/// Each thread runs a loop of independent FMA chains on vectors of the
/// machine's native width (`MachineModel.vectorFloats`). An FMA has a latency
/// of about 4 cycles and cores issue up to two per cycle, so at least 8 chains
/// must be in flight; 12 leaves headroom and fits the 16 AVX2 (or 32 AVX-512)
/// vector registers without spills — 12 chains of a vector wider than the
/// registers would not, and would measure the spills.
///
/// The all-threads figure is checked against one thread's × threads: a
/// neighbour on the other core halves it, and every "% of peak" computed from
/// it would double. It is measured again up to `attempts` times; if it stays
/// below `plausibleScaling` of the expectation the result is flagged
/// (`suspect`), and reports mark their measurements busy.
public enum FMAPeak {
  static let chains = 12

  /// FMA loop iterations per timed sample (~30 ms on one core here).
  static let iterations = 10_000_000
  /// Samples per measurement, best taken.
  static let samples = 3
  /// Measurements of the all-threads figure before it is flagged.
  static let attempts = 3
  /// The all-threads peak is plausible from this fraction of one thread's × threads on.
  static let plausibleScaling = 0.85

  public struct Result: Sendable, Codable, Equatable {
    /// GFLOP/s (2 flops per lane per FMA) with one thread.
    public var singleThread: Double
    /// GFLOP/s with every thread of the pool running the loop at once.
    public var allThreads: Double
    public var threads: Int
    /// Floats per vector of the loop.
    public var lanes: Int
    /// All threads stayed below `plausibleScaling` × one thread × threads after every attempt.
    public var suspect: Bool
    /// How many all-threads measurements were taken.
    public var attempts: Int

    /// "117.5 GFLOP/s on 1 thread, 233.0 on 2" (+ a warning when suspect).
    public var summary: String {
      var text = String(format: "%.1f GFLOP/s on 1 thread, %.1f on %d", singleThread, allThreads, threads)
      if suspect {
        text += String(format: " (SUSPECT: expected about %.0f; another process is probably using the cores)",
                       singleThread * Double(threads))
      }
      return text
    }
  }

  /// One thread, then all threads of `pool`, best of `samples` runs each,
  /// the latter repeated while implausibly low.
  public static func measure(pool: ThreadPool, machine: MachineModel = .current) -> Result {
    let lanes = machine.vectorFloats >= 16 ? 16 : 8
    let flopsPerThread = Double(iterations * chains * lanes * 2)
    var sink: Float = 0
    func loop(_ seed: Float) -> Float {
      lanes == 16 ? chainLoop(SIMD16<Float>.self, iterations: iterations, seed: seed)
        : chainLoop(SIMD8<Float>.self, iterations: iterations, seed: seed)
    }
    var single = 0.0
    for _ in 0..<samples {
      let t = Stopwatch.time { sink += loop(sink) }
      single = max(single, flopsPerThread / t / 1e9)
    }
    var all = 0.0, tried = 0
    let expected = single * Double(pool.threadCount)
    while tried < attempts && all < plausibleScaling * expected {
      tried += 1
      for _ in 0..<samples {
        var partial = [Float](repeating: 0, count: pool.threadCount)
        let t = partial.withUnsafeMutableBufferPointer { out in
          Stopwatch.time { pool.parallelFor(pool.threadCount) { i in out[i] = loop(Float(i)) } }
        }
        all = max(all, flopsPerThread * Double(pool.threadCount) / t / 1e9)
        sink += partial.reduce(0, +)
      }
    }
    blackHole(sink)
    return Result(singleThread: single, allThreads: all, threads: pool.threadCount, lanes: lanes,
                  suspect: all < plausibleScaling * expected, attempts: tried)
  }

  @inline(never)
  static func chainLoop<V: SIMD>(_: V.Type, iterations: Int, seed: Float) -> Float where V.Scalar == Float {
    // x ← x + m·c with m·c tiny keeps values finite for any iteration count.
    let m = V(repeating: 1e-7), c = V(repeating: 0.5)
    var a0 = V(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3
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
