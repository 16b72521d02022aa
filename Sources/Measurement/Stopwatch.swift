import ConvCore

/// The one stopwatch every measurement here uses: monotonic wall-clock
/// seconds around a body of work.
public enum Stopwatch {
  @inline(__always)
  public static func now() -> Double { MonotonicClock.now() }

  /// Seconds taken by `body`.
  @inline(__always)
  public static func time(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
  }
}

/// Keeps a value alive so the optimiser cannot delete the work that produced it.
@inline(never)
public func blackHole<T>(_ value: T) {
  withExtendedLifetime(value) {}
}
