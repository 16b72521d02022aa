import ConvCore
import Foundation
import Measurement

/// One CSV row of a benchmark run: a whole network on one backend or plan
/// (`scope` = network), or one layer of it (`scope` = layer).
///
/// The column list is the schema; README.md documents every column. Times are
/// milliseconds.
public struct BenchmarkRecord: Equatable, Sendable {
  /// Increase when a column is added, removed or changes meaning. Schema 2
  /// added the machine-load columns (`busy`, `steal_pct`, `other_load_pct`).
  public static let schemaVersion = "2"

  public static let columns = [
    "schema", "run_id", "timestamp", "git_commit", "fingerprint", "model", "variant", "batch", "input_size", "threads",
    "scope", "candidate", "layer", "descriptor", "layer_backend", "layer_config",
    "repetitions", "median_ms", "p10_ms", "p90_ms", "mean_ms", "cv", "noisy",
    "images_per_s", "gflops", "peak_pct", "share_pct", "max_error", "tolerance", "top5", "agreement",
    "busy", "steal_pct", "other_load_pct",
  ]

  /// The columns that identify a row across runs (compare matches on these).
  public static let identity = ["model", "variant", "batch", "input_size", "threads", "scope", "candidate", "layer"]

  public var values: [String: String]

  public init(_ values: [String: String]) { self.values = values }

  public subscript(column: String) -> String {
    get { values[column] ?? "" }
    set { values[column] = newValue }
  }

  public var key: String { Self.identity.map { self[$0] }.joined(separator: "|") }

  public static func header() -> String { CSV.line(columns) }
  public func line() -> String { CSV.line(Self.columns.map { self[$0] }) }

  /// Reads records written by `line()`, refusing another schema.
  public static func load(_ path: String) throws -> [BenchmarkRecord] {
    try records(of: CSVTable.load(path), source: path)
  }

  /// What `load` does with the text of a file (the loader `compare` and `report` use).
  public static func decode(_ text: String, source: String) throws -> [BenchmarkRecord] {
    try records(of: CSVTable(text: text, source: source), source: source)
  }

  private static func records(of table: CSVTable, source path: String) throws -> [BenchmarkRecord] {
    guard table.header == columns else {
      let missing = columns.filter { !table.header.contains($0) }
      throw CSV.ParseError(message: "\(path): not a resnet-bench CSV of schema \(schemaVersion)"
                           + (missing.isEmpty ? " (columns differ in order)" : " (missing column '\(missing[0])')"))
    }
    let records = table.rows.map(BenchmarkRecord.init)
    if let other = records.first(where: { $0["schema"] != schemaVersion }) {
      throw CSV.ParseError(message: "\(path): schema \(printable(other["schema"])) rows; this build reads schema \(schemaVersion)")
    }
    return records
  }
}

extension BenchmarkRecord {
  /// Summary rows (median, p10, p90, mean, CV) of a JSON results file, with
  /// the CSV's identity columns, for comparing it with a CSV.
  public static func summaries(of document: GoogleBenchmarkJSON.Document) -> [BenchmarkRecord] {
    document.series.compactMap { s in
      guard !s.samples.isEmpty else { return nil }
      let t = TimingSummary(s.samples)
      var r = BenchmarkRecord([:])
      r["schema"] = schemaVersion
      for key in ["run_id", "git_commit", "model", "variant", "batch", "input_size", "threads"] { r[key] = document.context[key] ?? "" }
      r["fingerprint"] = document.fingerprint ?? ""
      r["scope"] = s.fields["scope"] ?? ""
      r["candidate"] = s.fields["candidate"] ?? s.name
      r["layer"] = s.fields["layer"] ?? ""
      r["descriptor"] = s.fields["descriptor"] ?? ""
      r["repetitions"] = "\(t.count)"
      r["median_ms"] = String(t.median * 1e3)
      r["p10_ms"] = String(t.p10 * 1e3)
      r["p90_ms"] = String(t.p90 * 1e3)
      r["mean_ms"] = String(t.mean * 1e3)
      r["cv"] = String(t.coefficientOfVariation)
      r["busy"] = document.busy ? "1" : "0"
      return r
    }
  }
}
