import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How busy the machine was while something was measured: CPU time the
/// hypervisor gave to other guests ("steal"), CPU time other processes of
/// this guest used, and the load average. On a shared machine a measurement
/// taken while either was high says more about the neighbours than about the
/// code; every report marks it.
public struct MachineLoad: Sendable, Codable, Equatable {
  /// Stolen time as a fraction of all CPU time in the interval (0…1).
  public var stealFraction: Double
  /// CPU time of other processes as a fraction of the interval × cores (0…1).
  public var otherProcessesFraction: Double
  /// The 1-minute load average at the end of the interval.
  public var loadAverage: Double
  /// Wall-clock seconds the interval spans.
  public var seconds: Double
  /// Set when the FMA peak measured alongside stayed far below one thread's × threads.
  public var peakSuspect: Bool

  /// Above these, a measurement is marked busy.
  public static let busyStealFraction = 0.05
  public static let busyOtherProcessesFraction = 0.10

  public var isBusy: Bool {
    stealFraction > Self.busyStealFraction || otherProcessesFraction > Self.busyOtherProcessesFraction || peakSuspect
  }

  /// "steal 0.4%, other processes 1.2%, load 1.05" (+ the reasons when busy).
  public var summary: String {
    func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
    var text = "steal \(pct(stealFraction)), other processes \(pct(otherProcessesFraction)), load \(String(format: "%.2f", loadAverage))"
    if peakSuspect { text += ", FMA peak suspect" }
    return isBusy ? "BUSY (\(text))" : text
  }

  public init(stealFraction: Double, otherProcessesFraction: Double, loadAverage: Double, seconds: Double, peakSuspect: Bool) {
    self.stealFraction = stealFraction
    self.otherProcessesFraction = otherProcessesFraction
    self.loadAverage = loadAverage
    self.seconds = seconds
    self.peakSuspect = peakSuspect
  }

  /// The counters at one instant.
  public struct Snapshot: Sendable {
    /// Jiffies of the aggregate `cpu` line of /proc/stat: busy (user, nice,
    /// system, irq, softirq), idle (idle, iowait), steal; nil where unreadable.
    var busy: Double?
    var idle: Double?
    var steal: Double?
    /// This process's user + system CPU seconds.
    var ownSeconds: Double
    var wall: Double

    public static func now() -> Snapshot {
      let clockTicks = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
      var busy: Double?, idle: Double?, steal: Double?
      if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
         let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
      {
        let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }.map { $0 / clockTicks }
        if f.count >= 8 {
          busy = f[0] + f[1] + f[2] + f[5] + f[6]
          idle = f[3] + f[4]
          steal = f[7]
        }
      }
      var usage = rusage()
      getrusage(RUSAGE_SELF.rawValue, &usage)
      func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
      return Snapshot(busy: busy, idle: idle, steal: steal, ownSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
                      wall: Stopwatch.now())
    }
  }

  /// The load between two snapshots.
  ///
  /// /proc/stat counts in clock ticks (10 ms) sampled per CPU, while this
  /// process's CPU time is exact, so each count may be off by a tick per CPU
  /// at either end; that much is subtracted before dividing, so a short
  /// interval (a 20 ms `conv`) does not read as busy from rounding alone.
  public static func between(_ start: Snapshot, _ end: Snapshot, cores: Int, peakSuspect: Bool = false) -> MachineLoad {
    var sum = Accumulator()
    sum.add(start, end)
    return sum.load(cores: cores, peakSuspect: peakSuspect)
  }

  /// The load over several disjoint intervals, e.g. only a process's own
  /// turns in lockstep with another (whose CPU time in its turns is not
  /// "other processes" disturbing this one's measurements).
  public struct Accumulator: Sendable {
    var busy = 0.0, idle = 0.0, steal = 0.0, own = 0.0, wall = 0.0
    var intervals = 0
    var countersMissing = false

    public init() {}

    public mutating func add(_ start: Snapshot, _ end: Snapshot) {
      intervals += 1
      wall += max(end.wall - start.wall, 0)
      own += end.ownSeconds - start.ownSeconds
      guard let b0 = start.busy, let b1 = end.busy, let i0 = start.idle, let i1 = end.idle, let s0 = start.steal, let s1 = end.steal else {
        countersMissing = true
        return
      }
      busy += b1 - b0
      idle += i1 - i0
      steal += s1 - s0
    }

    /// Each count read from /proc/stat is rounded to a tick per CPU; the
    /// error of one interval lies within ±1 tick per CPU, of n intervals
    /// (independent roundings) about ±√(n/6) ticks: 3 standard deviations of
    /// it, at least the 2 ticks of one interval, are subtracted before dividing.
    public func load(cores: Int, peakSuspect: Bool = false) -> MachineLoad {
      let wall = max(self.wall, 1e-9)
      let cpus = Double(max(cores, 1))
      let tick = 1 / Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
      let tickMargin = max(2, 3 * (Double(intervals) / 6).squareRoot()) * cpus * tick
      var stealFraction = 0.0, others = 0.0
      if !countersMissing {
        let total = busy + idle + steal
        if total > 0 { stealFraction = max(0, steal - tickMargin) / max(total, wall * cpus) }
        others = max(0, busy - own - tickMargin) / (wall * cpus)
      }
      return MachineLoad(stealFraction: min(stealFraction, 1), otherProcessesFraction: min(others, 1), loadAverage: loadAverage(),
                         seconds: wall, peakSuspect: peakSuspect)
    }
  }

  /// The 1-minute load average (/proc/loadavg), 0 where unreadable.
  public static func loadAverage() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
          let first = text.split(separator: " ").first, let value = Double(first) else { return 0 }
    return value
  }

  /// The worst of several intervals (the highest of each figure), for a report covering all of them.
  public static func worst(_ loads: [MachineLoad]) -> MachineLoad? {
    guard let first = loads.first else { return nil }
    return loads.dropFirst().reduce(first) { a, b in
      MachineLoad(stealFraction: max(a.stealFraction, b.stealFraction),
                  otherProcessesFraction: max(a.otherProcessesFraction, b.otherProcessesFraction),
                  loadAverage: max(a.loadAverage, b.loadAverage), seconds: a.seconds + b.seconds,
                  peakSuspect: a.peakSuspect || b.peakSuspect)
    }
  }
}
