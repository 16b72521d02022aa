import ArgumentParser
import Foundation
import Harness

struct CompareCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare",
    abstract: "Compare two benchmark CSVs: exit 0 when nothing regressed beyond the threshold, 1 when something did, 2 on unusable input.",
    discussion: """
      Rows are matched on model, variant, batch, input size, threads, scope,
      candidate and layer. A change counts as a regression when the median is
      slower by more than --threshold percent AND the two runs' p10–p90 ranges
      do not overlap (the change stands out from both runs' spread).

      Example: resnet-bench compare results/baseline.csv current.csv --threshold 10
      """)

  @Argument(help: "The baseline CSV (from `run --csv`).")
  var baseline: String

  @Argument(help: "The CSV to judge.")
  var current: String

  @Option(help: "Percent slowdown tolerated before a change is a regression.")
  var threshold: Double = 10

  @Flag(help: "List every matched row, not only the changes that matter.")
  var verbose = false

  func validate() throws {
    guard threshold >= 0 && threshold <= 1000 else { throw ValidationError("--threshold must be between 0 and 1000 percent (got \(threshold))") }
  }

  func run() throws {
    let result = try Compare.compare(baseline: BenchmarkRecord.load(baseline), current: BenchmarkRecord.load(current), thresholdPercent: threshold)
    if result.fingerprintsDiffer {
      note("warning: the files come from different machines or builds (fingerprints differ); timings may not be comparable")
    }
    var table = TextTable(["row (model|variant|batch|size|threads|scope|candidate|layer)", "baseline ms", "current ms", "change", "stands out", "verdict"])
    for c in result.changes where verbose || c.isRegression || c.isImprovement {
      table.add([c.key, fixed(c.baselineMs, 3), fixed(c.currentMs, 3), (c.percent >= 0 ? "+" : "") + fixed(c.percent, 1) + "%",
                 c.standsOut ? "yes" : "no", c.isRegression ? "REGRESSION" : (c.isImprovement ? "faster" : "same")])
    }
    if !table.rows.isEmpty { print(table.render(), terminator: "") }
    print("\(result.changes.count) rows compared, \(result.regressions.count) regressions beyond \(fixed(threshold, 1))%, "
          + "\(result.changes.filter(\.isImprovement).count) improvements; "
          + "\(result.unmatchedBaseline.count) baseline rows and \(result.unmatchedCurrent.count) current rows unmatched")
    if !result.regressions.isEmpty { throw ExitCode(1) }
  }
}
