#if canImport(Glibc)
import Glibc
#endif
import ConvCore
import Measurement

/// The cost of handing a parallel loop to the thread pool: what every
/// multi-threaded layer pays at least once, whatever its size.
public enum PoolOverhead {
  /// Median seconds of an empty `parallelFor` with one task per thread: back
  /// to back after a warm-up, and with the workers asleep first (as between
  /// layers that call a library, or after `ThreadPool.idleSpinSeconds`).
  public static func measure(pool: ThreadPool, samples: Int = 2000) -> (hot: Double, afterIdle: Double) {
    let empty = { pool.parallelFor(pool.threadCount, EmptyTask()) }
    let hot = Sampler.sample(count: 1, policy: SamplingPolicy(warmup: 100, repetitions: samples), run: { _ in empty() })
    // Long enough for idle workers to go to sleep; slept between timed runs, untimed.
    let sleepMicroseconds: UInt32 = 2000
    usleep(sleepMicroseconds)
    let idle = Sampler.sample(count: 1, policy: SamplingPolicy(warmup: 0, repetitions: 20), run: { _ in empty() },
                              record: { _ in usleep(sleepMicroseconds) })
    return (hot.summary(0).median, idle.summary(0).median)
  }
}

/// A task that does nothing: what is left is the pool's own cost.
private struct EmptyTask: ParallelTask {
  func run(_ index: Int) {}
}
