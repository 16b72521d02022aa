import Synchronization

/// The indices `0..<count` handed out one at a time to threads that take them
/// either from the front (lowest first) or from the back (highest first), for
/// a kernel that schedules its own items inside the pool's loop. The thread
/// that takes from the front runs the first part of the range and the others
/// the last, as the pool does with its own tasks (see `ThreadPool`), so on
/// two threads each works on the same part of the image layer after layer.
public struct TwoEndedClaims: ~Copyable, Sendable {
  /// end (high 32 bits) | next (low 32 bits); the unclaimed indices are next..<end.
  private let state = Atomic<UInt64>(0)

  public init() {}

  /// Starts a new range `0..<count`; call before the loop that claims from it.
  public func reset(count: Int) {
    precondition(count >= 0 && count <= Int(UInt32.max), "claim count out of range")
    state.store(UInt64(count) << 32, ordering: .relaxed)
  }

  /// The next unclaimed index from the chosen end, or nil when none is left.
  public func claim(fromBack: Bool) -> Int? {
    var s = state.load(ordering: .relaxed)
    while true {
      let next = Int(s & 0xffff_ffff), end = Int(s >> 32)
      if next >= end { return nil }
      let desired = fromBack ? s - (1 << 32) : s + 1
      let (exchanged, actual) = state.compareExchange(expected: s, desired: desired, ordering: .relaxed)
      if exchanged { return fromBack ? end - 1 : next }
      s = actual
    }
  }
}
