#if canImport(Glibc)
import Glibc
#endif
import ConvCore

/// The cost of handing a parallel loop to the thread pool: what every
/// multi-threaded layer pays at least once, whatever its size.
public enum PoolOverhead {
  /// Median seconds of an empty `parallelFor` with one task per thread, after warm-up;
  /// `idleFirst` sleeps the workers first, as between layers that call a library.
  public static func measure(pool: ThreadPool, samples: Int = 2000) -> (hot: Double, afterIdle: Double) {
    func once() -> Double { Stopwatch.time { pool.parallelFor(pool.threadCount) { _ in } } }
    for _ in 0..<100 { _ = once() }
    var hot = (0..<samples).map { _ in once() }
    hot.sort()
    var idle: [Double] = []
    for _ in 0..<20 {
      usleep(2000)  // long enough for idle workers to go to sleep
      idle.append(once())
    }
    idle.sort()
    return (hot[hot.count / 2], idle[idle.count / 2])
  }
}
