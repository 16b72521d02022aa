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
/// with one file a side, the samples are compared unpaired.
public enum SampleComparison {
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
    public var regressions: [Row] { rows.filter { $0.verdict == .regression } }
  }

  /// - Parameter threshold: a fraction (0.05 for 5%).
  public static func compare(base: [GoogleBenchmarkJSON.Document], current: [GoogleBenchmarkJSON.Document],
                             threshold: Double) throws -> Result {
    guard !base.isEmpty, !current.isEmpty else { throw Compare.UnusableInput(message: "no results files on one side") }
    let names = base[0].series.map(\.name)
    let currentNames = Set(current.flatMap { $0.series.map(\.name) })
    let baseNames = Set(base.flatMap { $0.series.map(\.name) })
    let perProcess = base.count > 1 || current.count > 1
    let paired = perProcess && base.count == current.count
    var rows: [Row] = []
    for name in names where currentNames.contains(name) {
      func observations(_ side: [GoogleBenchmarkJSON.Document]) -> [Double] {
        let series = side.compactMap { doc in doc.series.first { $0.name == name } }
        return perProcess ? series.map { TimingSummary.median($0.samples) } : series.flatMap(\.samples)
      }
      let b = observations(base), c = observations(current)
      guard !b.isEmpty, !c.isEmpty, b.allSatisfy({ $0 > 0 }), c.allSatisfy({ $0 > 0 }) else { continue }
      let estimate = paired ? RatioEstimate.paired(base: b, candidate: c) : RatioEstimate.unpaired(base: b, candidate: c)
      rows.append(Row(name: name, baseSeconds: TimingSummary.median(b), currentSeconds: TimingSummary.median(c),
                      estimate: estimate, verdict: Verdict(estimate, threshold: threshold)))
    }
    if rows.isEmpty {
      throw Compare.UnusableInput(message: "no series with positive times appears on both sides (series are matched by name)")
    }
    let fingerprints = Set((base + current).compactMap(\.fingerprint))
    let method = paired ? "paired per-process medians, \(base.count) rounds"
      : perProcess ? "unpaired per-process medians, \(base.count) against \(current.count) files" : "unpaired repetitions of one file each"
    return Result(
      rows: rows, unmatchedBase: names.filter { !currentNames.contains($0) },
      unmatchedCurrent: current.flatMap { $0.series.map(\.name) }.filter { !baseNames.contains($0) }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } },
      fingerprintsDiffer: fingerprints.count > 1, busyFiles: (base + current).filter(\.busy).map(\.source), method: method)
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
