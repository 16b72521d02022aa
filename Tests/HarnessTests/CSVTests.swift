@testable import Harness
import Foundation
import XCTest

final class CSVTests: XCTestCase {
  func testQuotingRoundTrip() throws {
    let fields = ["plain", "with,comma", "with \"quote\"", "two\nlines", "", "crlf\r\nend"]
    let text = CSV.line(fields) + CSV.line(["a", "b", "c", "d", "e", "f"])
    XCTAssertTrue(text.hasPrefix("plain,\"with,comma\",\"with \"\"quote\"\"\",\"two\nlines\",,"))
    let parsed = try CSV.parse(text)
    XCTAssertEqual(parsed, [fields, ["a", "b", "c", "d", "e", "f"]])
    XCTAssertEqual(try CSV.parse("x,y\n1,2"), [["x", "y"], ["1", "2"]], "bare LF and no final newline")
    // A quote followed by a combining mark (one Character) is still doubled.
    let combining = "a\"\u{07AF}b"
    XCTAssertEqual(try CSV.parse(CSV.line([combining])), [[combining]])
  }

  func testMalformedCSV() {
    for (text, expected) in [("a,\"open\n", "unterminated"), ("a,\"b\"c\n", "after a closing quote"), ("a,b\"c\n", "quote inside"), ("a\rb\n", "carriage return")] {
      XCTAssertThrowsError(try CSV.parse(text)) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
    }
    XCTAssertThrowsError(try CSVTable(text: "a,b\n1\n", source: "t.csv")) { XCTAssertTrue("\($0)".contains("record 2 has 1 fields")) }
    // A repeated column name used to trap building the row dictionaries.
    XCTAssertThrowsError(try CSVTable(text: "a,a\n1,2\n", source: "t.csv")) { XCTAssertTrue("\($0)".contains("column 'a' appears twice"), "\($0)") }
  }

  func testRecordsRoundTripThroughAFile() throws {
    var r = BenchmarkRecord([:])
    for column in BenchmarkRecord.columns { r[column] = column == "schema" ? BenchmarkRecord.schemaVersion : "v,\(column)\"" }
    let url = try CommandLine.temporaryDirectory().appendingPathComponent("r.csv")
    try Data((BenchmarkRecord.header() + r.line()).utf8).write(to: url)
    XCTAssertEqual(try BenchmarkRecord.load(url.path), [r])
    try Data("a,b\r\n1,2\r\n".utf8).write(to: url)
    XCTAssertThrowsError(try BenchmarkRecord.load(url.path)) { XCTAssertTrue("\($0)".contains("not a resnet-bench CSV")) }
  }
}

final class CompareTests: XCTestCase {
  /// A file with one network row per candidate: (candidate, median, p10, p90).
  private func write(_ rows: [(String, Double, Double, Double)]) throws -> String {
    let url = try CommandLine.temporaryDirectory().appendingPathComponent("run.csv")
    var text = BenchmarkRecord.header()
    for (candidate, median, p10, p90) in rows {
      var r = BenchmarkRecord(["schema": BenchmarkRecord.schemaVersion, "model": "resnet50", "variant": "v1.5", "batch": "1",
                               "input_size": "224", "threads": "2", "scope": "network", "candidate": candidate, "fingerprint": "f"])
      r["median_ms"] = String(median); r["p10_ms"] = String(p10); r["p90_ms"] = String(p90)
      text += r.line()
    }
    try Data(text.utf8).write(to: url)
    return url.path
  }

  func testNoChangeSlowdownAndMalformed() throws {
    let base = try write([("a", 10, 9.8, 10.2), ("b", 20, 19.5, 20.5)])
    XCTAssertEqual(try CommandLine.run(["compare", base, base]).status, 0)
    // Within spread: a 10% slower median whose range overlaps the baseline's is not a regression.
    let overlapping = try write([("a", 11, 9.9, 12), ("b", 20, 19.5, 20.5)])
    XCTAssertEqual(try CommandLine.run(["compare", base, overlapping, "--threshold", "5"]).status, 0)
    let slower = try write([("a", 11.5, 11.3, 11.7), ("b", 20, 19.5, 20.5)])
    let r = try CommandLine.run(["compare", base, slower, "--threshold", "10"])
    XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
    XCTAssertTrue(r.stdout.contains("REGRESSION") && r.stdout.contains("|a|"), r.stdout)
    XCTAssertEqual(try CommandLine.run(["compare", base, slower, "--threshold", "20"]).status, 0)
    let other = try write([("z", 10, 9.8, 10.2)])
    let none = try CommandLine.run(["compare", base, other])
    XCTAssertEqual(none.status, 2)
    XCTAssertTrue(none.stderr.contains("no rows match"))
    let dir = try CommandLine.temporaryDirectory()
    let broken = dir.appendingPathComponent("broken.csv")
    try Data("schema,run_id\n\"1,x\n".utf8).write(to: broken)
    XCTAssertEqual(try CommandLine.run(["compare", base, broken.path]).status, 2)
    let foreign = dir.appendingPathComponent("foreign.csv")
    try Data("name,time\nx,1\n".utf8).write(to: foreign)
    let f = try CommandLine.run(["compare", foreign.path, base])
    XCTAssertEqual(f.status, 2)
    XCTAssertTrue(f.stderr.contains("not a resnet-bench CSV"), f.stderr)
  }
}

final class ReportTests: XCTestCase {
  func testReportIsSelfContainedHTMLWithThreeCharts() throws {
    func row(_ scope: String, _ candidate: String, _ layer: String, _ ms: Double) -> BenchmarkRecord {
      BenchmarkRecord(["schema": BenchmarkRecord.schemaVersion, "run_id": "r1", "model": "resnet18", "variant": "v1.5", "batch": "1",
                       "input_size": "32", "threads": "2", "scope": scope, "candidate": candidate, "layer": layer,
                       "layer_backend": candidate, "median_ms": String(ms), "p10_ms": String(ms * 0.9), "p90_ms": String(ms * 1.1),
                       "peak_pct": "42", "agreement": "ok"])
    }
    let rows = [row("network", "naive", "", 10), row("network", "fast<er>", "", 2),
                row("layer", "naive", "conv1", 5), row("layer", "fast<er>", "conv1", 1)]
    let page = try HTMLReport.render(rows, source: "x.csv")
    XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
    XCTAssertEqual(page.components(separatedBy: "<svg ").count - 1, 3)
    XCTAssertTrue(page.contains("fast&lt;er&gt;"), "names are escaped")
    XCTAssertFalse(page.contains("<script") || page.contains("http://") && !page.contains("http://www.w3.org/2000/svg"))
    let networkOnly = try HTMLReport.render(Array(rows.prefix(2)), source: "x.csv")
    XCTAssertTrue(networkOnly.contains("run --layers"))
    XCTAssertThrowsError(try HTMLReport.render([], source: "x.csv"))
    // A percentage of inf used to loop forever drawing gridlines; a huge
    // finite one wrote a page of gigabytes.
    var bad = rows
    bad[2]["peak_pct"] = "inf"
    XCTAssertThrowsError(try HTMLReport.render(bad, source: "x.csv")) { XCTAssertTrue("\($0)".contains("peak_pct 'inf'"), "\($0)") }
    var tall = rows
    tall[2]["peak_pct"] = "900000000"
    XCTAssertLessThan(try HTMLReport.render(tall, source: "x.csv").utf8.count, 100_000)
  }
}
