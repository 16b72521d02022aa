#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time in seconds: what the thread pool's idle spin and a
/// backend's own phase breakdown read. Timing a candidate is the
/// measurement core's business (`Measurement.Stopwatch`, `Sampler`).
public enum MonotonicClock {
  @inline(__always)
  public static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}
