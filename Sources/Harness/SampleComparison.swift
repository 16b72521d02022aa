import Foundation
import Measurement

/// Compares two sets of raw samples series by series, with an interval:
/// the regression gate's verdicts.
///
/// Each side is one or more results files (Google Benchmark JSON). With
/// several files per side — one per process, the A/B gate runs base and head
/// alternately — each file's median of a series is one observation: the
/// process is the unit that varies (its memory layout, its page placement,
/// the machine's state while it ran), and samples within one process are not
/// independent of each other. When both sides have the same number of files
/// they are paired in order (round `i` of base with round `i` of head, run
/// back to back) and compared with `RatioEstimate.paired`; otherwise, or
/// with one file a side, the samples are compared unpaired. Files written in
/// lockstep (`run --lockstep`: the two processes of a pair took turns round
/// by round) pair inside the pair as well: each pair contributes the median
/// of its round-by-round ratios, which the machine's changes of speed (on a
/// scale of seconds here) touch far less than the ratio of two processes'
/// medians taken seconds apart.
///
/// Two defences against a shared machine's noise:
/// - files measured while the machine was busy (steal time, other processes,
///   an FMA peak far below its expectation — a neighbour took a core) are left
///   out, with their round partner when paired, and counted in the result;
/// - the intervals hold for all series at once: with m series each interval
///   is at 1 − α/m (Bonferroni, α = 5%), so comparing 110 layers and networks
///   does not turn five of them into false alarms by chance alone.
public enum SampleComparison {
  /// The family-wise error rate the intervals are set for.
  public static let familyWiseAlpha = 0.05

  public struct Row: Sendable {
    public var name: String
    /// Median of the base's and the current side's observations, seconds.
    public var baseSeconds: Double
    public var currentSeconds: Double
    public var estimate: RatioEstimate
    public var verdict: Verdict
  }

  public struct Result: Sendable {
    public var rows: [Row]
    public var unmatchedBase: [String]
    public var unmatchedCurrent: [String]
    /// Files whose fingerprints differ from the first base file's.
    public var fingerprintsDiffer: Bool
    /// Files measured while the machine was busy.
    public var busyFiles: [String]
    /// How the observations were formed ("paired per-process medians, 10 rounds", …).
    public var method: String
    /// The confidence of each series' interval (1 − α/m).
    public var seriesConfidence: Double
    /// Rounds (paired) or files (unpaired) left out because the machine was busy.
    public var excludedBusy: Int
    public var regressions: [Row] { rows.filter { $0.verdict == .regression } }
  }

  /// - Parameter threshold: a fraction (0.05 for 5%).
  public static func compare(base: [GoogleBenchmarkJSON.Document], current: [GoogleBenchmarkJSON.Document],
                             threshold: Double) throws -> Result {
    guard !base.isEmpty, !current.isEmpty else { throw Compare.UnusableInput(message: "no results files on one side") }
    var base = base, current = current
    var excluded = 0
    if base.count > 1 && base.count == current.count {
      let keep = quietRounds(base, current)
      excluded = base.count - keep.count
      if keep.count >= 2 { (base, current) = (keep.map { base[$0] }, keep.map { current[$0] }) } else { excluded = 0 }
    } else {
      let (b, c) = (base.filter { !$0.busy }, current.filter { !$0.busy })
      if !b.isEmpty && !c.isEmpty { excluded = base.count + current.count - b.count - c.count; (base, current) = (b, c) }
    }
    let names = base[0].series.map(\.name)
    let currentNames = Set(current.flatMap { $0.series.map(\.name) })
    let baseNames = Set(base.flatMap { $0.series.map(\.name) })
    let perProcess = base.count > 1 || current.count > 1
    let paired = perProcess && base.count == current.count
    let compared = names.filter { currentNames.contains($0) }
    let confidence = 1 - familyWiseAlpha / Double(max(compared.count, 1))
    // Processes run in lockstep (round r of both measured back to back) pair
    // within the process too.
    let lockstep = paired && (base + current).allSatisfy { $0.context["lockstep"] != nil }
    var rows: [Row] = []
    var notInStep = 0
    // Each file's series by name (the first of a repeated name), looked up once per series compared.
    func index(_ side: [GoogleBenchmarkJSON.Document]) -> [[String: GoogleBenchmarkJSON.Series]] {
      side.map { doc in doc.series.reduce(into: [:]) { byName, s in if byName[s.name] == nil { byName[s.name] = s } } }
    }
    let baseIndex = index(base), currentIndex = index(current)
    for name in compared {
      func series(_ side: [[String: GoogleBenchmarkJSON.Series]]) -> [GoogleBenchmarkJSON.Series] {
        side.compactMap { $0[name] }
      }
      func observations(_ side: [[String: GoogleBenchmarkJSON.Series]]) -> [Double] {
        perProcess ? series(side).map { TimingSummary.median($0.samples) } : series(side).flatMap(\.samples)
      }
      let b = observations(baseIndex), c = observations(currentIndex)
      guard !b.isEmpty, !c.isEmpty, b.allSatisfy({ $0 > 0 }), c.allSatisfy({ $0 > 0 }) else { continue }
      let estimate: RatioEstimate
      if lockstep, let ratios = lockstepRatios(series(baseIndex), series(currentIndex)) {
        estimate = .paired(base: Array(repeating: 1, count: ratios.count), candidate: ratios, confidence: confidence)
      } else if paired {
        if lockstep { notInStep += 1 }
        estimate = .paired(base: b, candidate: c, confidence: confidence)
      } else {
        estimate = .unpaired(base: b, candidate: c, confidence: confidence)
      }
      rows.append(Row(name: name, baseSeconds: TimingSummary.median(b), currentSeconds: TimingSummary.median(c),
                      estimate: estimate, verdict: Verdict(estimate, threshold: threshold)))
    }
    if rows.isEmpty {
      throw Compare.UnusableInput(message: "no series with positive times appears on both sides (series are matched by name)")
    }
    let fingerprints = Set((base + current).compactMap(\.fingerprint))
    let method = lockstep && notInStep == rows.count ? "paired per-process medians, \(base.count) rounds (files marked lockstep, but their rounds do not match)"
      : lockstep ? "paired in lockstep: per process pair the median of its round-by-round ratios, \(base.count) pairs"
        + (notInStep > 0 ? " (\(notInStep) series by per-process medians: their rounds do not match)" : "")
      : paired ? "paired per-process medians, \(base.count) rounds"
      : perProcess ? "unpaired per-process medians, \(base.count) against \(current.count) files" : "unpaired repetitions of one file each"
    return Result(
      rows: rows, unmatchedBase: names.filter { !currentNames.contains($0) },
      unmatchedCurrent: Self.firstOccurrences(current.flatMap { $0.series.map(\.name) }.filter { !baseNames.contains($0) }),
      fingerprintsDiffer: fingerprints.count > 1, busyFiles: (base + current).filter(\.busy).map(\.source), method: method,
      seriesConfidence: confidence, excludedBusy: excluded)
  }

  /// How many round pairs (file `i` of each side) were measured with
  /// neither side on a busy machine: the pairs `compare` will use. The A/B
  /// gate runs rounds until this reaches what it wants.
  public static func quietPairs(base: [GoogleBenchmarkJSON.Document], current: [GoogleBenchmarkJSON.Document]) throws -> Int {
    guard base.count == current.count else {
      throw Compare.UnusableInput(message: "the sides hold \(base.count) and \(current.count) results files; round pairs need the same number")
    }
    return quietRounds(base, current).count
  }

  /// The round indices at which neither side's file was measured busy (sides of equal length).
  static func quietRounds(_ base: [GoogleBenchmarkJSON.Document], _ current: [GoogleBenchmarkJSON.Document]) -> [Int] {
    base.indices.filter { !base[$0].busy && !current[$0].busy }
  }

  /// `names` without repeats, in first-seen order.
  static func firstOccurrences(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return names.filter { seen.insert($0).inserted }
  }

  /// Per process pair, the median of the ratios of round r of the current
  /// side to round r of the base (rounds taken in lockstep, back to back);
  /// nil when a pair's series differ in length (they did not run in step).
  static func lockstepRatios(_ base: [GoogleBenchmarkJSON.Series], _ current: [GoogleBenchmarkJSON.Series]) -> [Double]? {
    guard base.count == current.count else { return nil }
    var ratios: [Double] = []
    for (b, c) in zip(base, current) {
      guard b.samples.count == c.samples.count, !b.samples.isEmpty else { return nil }
      let logs = zip(b.samples, c.samples).compactMap { x, y in x > 0 && y > 0 ? Foundation.log(y / x) : nil }
      guard !logs.isEmpty else { return nil }
      ratios.append(exp(TimingSummary.median(logs)))
    }
    return ratios
  }

  /// The results files a command-line argument names: a JSON file, or every
  /// `*.json` in a folder (sorted by name, so round files pair in order).
  public static func documents(at path: String) throws -> [GoogleBenchmarkJSON.Document] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw Compare.UnusableInput(message: "\(path): no such file or folder")
    }
    guard isFolder.boolValue else { return [try GoogleBenchmarkJSON.load(path)] }
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    if names.isEmpty { throw Compare.UnusableInput(message: "\(path): a folder with no .json results files") }
    return try names.map { try GoogleBenchmarkJSON.load((path as NSString).appendingPathComponent($0)) }
  }
}
