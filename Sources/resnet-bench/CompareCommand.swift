import ArgumentParser
import Foundation
import Harness
import Measurement

struct CompareCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare",
    abstract: "Compare two benchmark results: exit 0 when nothing regressed beyond the threshold, 1 when something did, 2 on unusable input.",
    discussion: """
      Each side is a CSV from `run --csv`, a JSON file from `run --json` /
      `conv --json` (Google Benchmark's format), or a folder of such JSON
      files (one per process, e.g. the rounds of scripts/ci-regression.sh).

      With raw samples on both sides (JSON), every series is compared by the
      Hodges–Lehmann ratio of current to base with its interval: paired
      per-process medians when both folders hold the same number of files,
      unpaired otherwise. The intervals hold for all series together (each
      at 1 − 5%/series, Bonferroni), and files measured on a busy machine are
      left out (with their round partner). A series is a REGRESSION when it is slower by more
      than --threshold percent and the interval excludes no change;
      INCONCLUSIVE when the interval reaches past the threshold but the
      slowdown is not established (the noise is too large to tell; exit 0,
      said plainly); unchanged or faster otherwise.

      With a CSV on either side only summaries exist: a row regresses when its
      median is slower by more than the threshold and the two runs' p10–p90
      ranges do not overlap.

      Examples:
        resnet-bench compare base.json head.json --threshold 5
        resnet-bench compare .build-ab/rounds/base .build-ab/rounds/head --threshold 5
        resnet-bench compare results/baseline.csv current.csv --threshold 10
      """)

  @Argument(help: "The base: a CSV, a JSON results file, or a folder of JSON files.")
  var baseline: String

  @Argument(help: "What to judge, in the same forms.")
  var current: String

  @Option(help: "Percent slowdown tolerated before a change is a regression.")
  var threshold: Double = 10

  @Flag(help: "List every matched row, not only the ones that matter.")
  var verbose = false

  @Flag(help: ArgumentHelp("Print only the number of round pairs measured on a quiet machine (the pairs a comparison uses) and exit 0.",
                           discussion: "Both sides must be folders (or files) with the same number of JSON results files; scripts/ci-regression.sh runs rounds until this reaches ROUNDS."))
  var quietPairs = false

  func validate() throws {
    guard threshold >= 0 && threshold <= 1000 else { throw ValidationError("--threshold must be between 0 and 1000 percent (got \(threshold))") }
  }

  private func isCSV(_ path: String) -> Bool { path.lowercased().hasSuffix(".csv") }

  func run() throws {
    if quietPairs {
      guard !isCSV(baseline) && !isCSV(current) else { throw InputError("--quiet-pairs needs JSON results on both sides, not a CSV") }
      print(try SampleComparison.quietPairs(base: SampleComparison.documents(at: baseline), current: SampleComparison.documents(at: current)))
      return
    }
    if isCSV(baseline) || isCSV(current) {
      try compareSummaries()
    } else {
      try compareSamples()
    }
  }

  private func compareSamples() throws {
    let result = try SampleComparison.compare(base: SampleComparison.documents(at: baseline),
                                              current: SampleComparison.documents(at: current), threshold: threshold / 100)
    if result.fingerprintsDiffer {
      note("warning: the files come from different machines or builds (fingerprints differ); timings may not be comparable")
    }
    if result.excludedBusy > 0 {
      note("left out \(result.excludedBusy) \(result.method.hasPrefix("paired") ? "round(s)" : "file(s)") measured on a busy machine (steal, other processes or a halved FMA peak)")
    }
    if !result.busyFiles.isEmpty && result.excludedBusy == 0 {
      note("warning: \(result.busyFiles.count) file(s) were measured on a busy machine and could not be left out: \(result.busyFiles.prefix(3).joined(separator: ", "))")
    }
    var table = TextTable([
      .init("series", .left), .init("base ms", .right), .init("current ms", .right), .init("ratio", .right),
      .init("interval", .right), .init("verdict", .left),
    ])
    for row in result.rows where verbose || row.verdict != .unchanged {
      let interval = row.estimate.isBounded ? "\(fixed(row.estimate.low, 3))–\(fixed(row.estimate.high, 3))" : "unbounded"
      table.add([row.name, fixed(row.baseSeconds * 1e3, 3), fixed(row.currentSeconds * 1e3, 3), fixed(row.estimate.ratio, 3),
                 interval, row.verdict.rawValue.uppercased()])
    }
    if table.rowCount > 0 { print(table.render(), terminator: "") }
    let count = { (v: Verdict) in result.rows.filter { $0.verdict == v }.count }
    print("\(result.rows.count) series compared (\(result.method); intervals at \(fixed(100 * result.seriesConfidence, 3))% each, 95% for all together) at \(fixed(threshold, 1))%: "
          + "\(count(.regression)) regression(s), \(count(.inconclusive)) inconclusive, \(count(.faster)) faster, \(count(.unchanged)) unchanged; "
          + "\(result.unmatchedBase.count) base and \(result.unmatchedCurrent.count) current series unmatched")
    if count(.inconclusive) > 0 {
      print("inconclusive: the noise is too large to tell whether these slowed by more than \(fixed(threshold, 1))%; rerun with more rounds or on a quieter machine")
    }
    if !result.regressions.isEmpty { throw ExitCode(1) }
  }

  private func compareSummaries() throws {
    let result = try Compare.compare(baseline: records(baseline), current: records(current), thresholdPercent: threshold)
    if result.fingerprintsDiffer {
      note("warning: the files come from different machines or builds (fingerprints differ); timings may not be comparable")
    }
    var table = TextTable([
      .init("row (model|variant|batch|size|threads|scope|candidate|layer)", .left), .init("baseline ms", .right),
      .init("current ms", .right), .init("change", .right), .init("stands out", .left), .init("verdict", .left),
    ])
    for c in result.changes where verbose || c.isRegression || c.isImprovement {
      table.add([c.key, fixed(c.baselineMs, 3), fixed(c.currentMs, 3), (c.percent >= 0 ? "+" : "") + fixed(c.percent, 1) + "%",
                 c.standsOut ? "yes" : "no", c.isRegression ? "REGRESSION" : (c.isImprovement ? "faster" : "same")])
    }
    if table.rowCount > 0 { print(table.render(), terminator: "") }
    print("\(result.changes.count) rows compared (summaries only: no raw samples), \(result.regressions.count) regressions beyond \(fixed(threshold, 1))%, "
          + "\(result.changes.filter(\.isImprovement).count) improvements; "
          + "\(result.unmatchedBaseline.count) baseline rows and \(result.unmatchedCurrent.count) current rows unmatched")
    if !result.regressions.isEmpty { throw ExitCode(1) }
  }

  /// CSV rows, or the summaries of a JSON side when the other is a CSV.
  private func records(_ path: String) throws -> [BenchmarkRecord] {
    if isCSV(path) { return try BenchmarkRecord.load(path) }
    return try SampleComparison.documents(at: path).flatMap { BenchmarkRecord.summaries(of: $0) }
  }
}
