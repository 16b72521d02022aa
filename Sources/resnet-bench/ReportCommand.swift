import ArgumentParser
import Foundation
import Harness
import ResNet

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Turn a run's CSV into one self-contained HTML page with SVG charts.",
    discussion: """
      Charts: end-to-end latency per backend and plan; per-layer time by
      backend (needs a CSV from `run --layers`); % of the FMA peak per layer.
      When the file holds several runs, the last one is shown.

      Example:
        resnet-bench run --model resnet50 --layers --csv run.csv
        resnet-bench report run.csv --html report.html
      """)

  @Argument(help: "A CSV written by `resnet-bench run --csv`.")
  var csv: String

  @Option(help: "Output HTML file.")
  var html: String

  func run() throws {
    let page = try HTMLReport.render(BenchmarkRecord.load(csv), source: csv)
    try AtomicFile.write(Data(page.utf8), to: URL(fileURLWithPath: html))
    note("wrote \(html)")
  }
}
