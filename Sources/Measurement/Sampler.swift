import ConvCore
#if canImport(Glibc)
import Glibc
#endif

/// How many times to run each candidate, and in what order.
public struct SamplingPolicy: Sendable {
  /// Untimed runs of each candidate before the first timed round.
  public var warmup: Int
  /// Timed runs of each candidate (one per round).
  public var repetitions: Int
  /// Keep adding rounds until every candidate has run this long in total
  /// (seconds), up to `repetitions × extensionFactor` rounds.
  public var minSeconds: Double
  /// Seeds the shuffled order of each round; recorded with the samples.
  public var seed: UInt64
  /// Untimed runs of a candidate right before each of its timed runs, so
  /// every sample is of a candidate in its steady state rather than of one
  /// starting from what another left in the caches (another candidate, or in
  /// lockstep another process's whole runtime).
  public var warmEach = 0

  /// When set, every round (warm-up rounds included) waits for its turn
  /// from another process (see `Lockstep`).
  public var lockstep: Lockstep?

  /// How far `minSeconds` may extend the rounds.
  public static let extensionFactor = 10

  public init(warmup: Int = 1, repetitions: Int = 10, minSeconds: Double = 0, seed: UInt64 = 0, lockstep: Lockstep? = nil) {
    self.warmup = warmup
    self.repetitions = repetitions
    self.minSeconds = minSeconds
    self.seed = seed
    self.lockstep = lockstep
  }

  /// Most rounds a candidate can take part in.
  public var maxRepetitions: Int { minSeconds > 0 ? repetitions * Self.extensionFactor : repetitions }
}

/// What one sampling produced: every sample kept, and how it was taken.
public struct SamplingRecord: Sendable {
  /// Seconds of every timed run, per candidate, in round order (sample `r` of
  /// two candidates were taken in the same round: they pair).
  public var samples: [[Double]]
  /// CPU seconds of the calling thread during each timed run (what Google
  /// Benchmark reports as `cpu_time`); the pool's other threads are not in it.
  public var cpuSamples: [[Double]]
  /// The candidate order of every round, as run.
  public var rounds: [[Int]]
  public var seed: UInt64
  /// How busy the machine was over the whole sampling.
  public var load: MachineLoad

  public func summary(_ candidate: Int) -> TimingSummary { TimingSummary(samples[candidate]) }
}

/// The one timing loop of the project: candidates run in interleaved rounds
/// (A B C, then C A B, …), every round in a freshly shuffled order, so that
/// slow drift of a shared machine and any first-or-last position effect hit
/// all candidates alike (Google Benchmark's random interleaving does the same).
/// The order is drawn from a seeded generator and recorded.
public enum Sampler {
  /// - Parameters:
  ///   - count: candidates.
  ///   - caps: per candidate, the most rounds it takes part in (nil: no cap;
  ///     a slow baseline is timed a few times only).
  ///   - prepare: called before each timed run of candidate `i` (untimed), e.g.
  ///     to evict its weights from the caches.
  ///   - run: runs candidate `i` once; timed.
  ///   - record: called after each timed run of candidate `i` (untimed), e.g.
  ///     to copy the per-layer times the run left behind.
  ///   - progress: after each round, its number and each candidate's sample count.
  public static func sample(
    count: Int, policy: SamplingPolicy, caps: [Int?] = [], prepare: (Int) -> Void = { _ in }, run: (Int) -> Void,
    record: (Int) -> Void = { _ in },
    progress: (Int, [Int]) -> Void = { _, _ in }
  ) -> SamplingRecord {
    let start = MachineLoad.Snapshot.now()
    // In lockstep the partner runs between this process's rounds; only the
    // rounds themselves count towards the machine's load.
    var ownTurns = MachineLoad.Accumulator()
    for _ in 0..<policy.warmup {
      policy.lockstep?.begin()
      for i in 0..<count { run(i) }
      policy.lockstep?.end()
    }
    var samples = Array(repeating: [Double](), count: count)
    var cpuSamples = samples
    var spent = [Double](repeating: 0, count: count)
    var rounds: [[Int]] = []
    var rng = SeededGenerator(seed: policy.seed)
    func limit(_ i: Int) -> Int { min(policy.maxRepetitions, (i < caps.count ? caps[i] : nil) ?? policy.maxRepetitions) }
    while true {
      var order = (0..<count).filter { i in
        samples[i].count < min(policy.repetitions, limit(i)) || (spent[i] < policy.minSeconds && samples[i].count < limit(i))
      }
      if order.isEmpty { break }
      shuffle(&order, &rng)
      policy.lockstep?.begin()
      let turnStart = MachineLoad.Snapshot.now()
      defer {
        ownTurns.add(turnStart, MachineLoad.Snapshot.now())
        policy.lockstep?.end()
      }
      for i in order {
        for _ in 0..<policy.warmEach { run(i) }
        prepare(i)
        let cpu = threadCPUSeconds()
        let seconds = Stopwatch.time { run(i) }
        cpuSamples[i].append(threadCPUSeconds() - cpu)
        samples[i].append(seconds)
        spent[i] += seconds
        record(i)
      }
      rounds.append(order)
      progress(rounds.count, samples.map(\.count))
    }
    let cores = MachineModel.current.cores
    let load = policy.lockstep == nil ? MachineLoad.between(start, .now(), cores: cores) : ownTurns.load(cores: cores)
    return SamplingRecord(samples: samples, cpuSamples: cpuSamples, rounds: rounds, seed: policy.seed, load: load)
  }

  /// CPU time of the calling thread, seconds.
  static func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Fisher–Yates with the project's seeded generator (the standard library's
  /// shuffle takes a generator too, but its algorithm is not specified, and
  /// the recorded order must be reproducible from the seed on any toolchain).
  static func shuffle(_ values: inout [Int], _ rng: inout SeededGenerator) {
    guard values.count > 1 else { return }
    for i in stride(from: values.count - 1, to: 0, by: -1) {
      let j = Int(rng.next() % UInt64(i + 1))
      values.swapAt(i, j)
    }
  }
}
