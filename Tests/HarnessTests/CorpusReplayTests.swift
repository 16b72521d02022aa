import Foundation
import XCTest

/// Replays the committed corpus of malformed inputs (Tests/Corpus) through
/// the CLI: each must give one line on stderr, nothing on stdout, exit 2 —
/// and that line must name the problem: every file has an entry in
/// `expected-messages.txt` ("folder/file: fragment") giving the field,
/// tensor, byte offset or line the message must mention.
final class CorpusReplayTests: XCTestCase {
  private static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Corpus")

  private static let expected: [String: String] = {
    let text = (try? String(contentsOf: corpus.appendingPathComponent("expected-messages.txt"), encoding: .utf8)) ?? ""
    var out: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      guard let colon = line.range(of: ": ") else { continue }
      out[String(line[..<colon.lowerBound])] = String(line[colon.upperBound...])
    }
    return out
  }()

  private func files(_ folder: String) throws -> [URL] {
    let dir = Self.corpus.appendingPathComponent(folder)
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    XCTAssertGreaterThanOrEqual(names.count, 5, "corpus folder \(folder) is nearly empty")
    return names.map { dir.appendingPathComponent($0) }
  }

  private func expectRefusal(_ arguments: [String], _ input: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let r = try CommandLine.run(arguments)
    let key = "\(input.deletingLastPathComponent().lastPathComponent)/\(input.lastPathComponent)"
    let label = "\(key): \(arguments.joined(separator: " "))"
    XCTAssertEqual(r.status, 2, "\(label) → \(r.stderr)", file: file, line: line)
    XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(label) printed: \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stdout.isEmpty, "\(label) printed data: \(r.stdout)", file: file, line: line)
    guard let fragment = Self.expected[key] else {
      return XCTFail("\(key) has no entry in Tests/Corpus/expected-messages.txt (its message: \(r.stderr))", file: file, line: line)
    }
    XCTAssertTrue(r.stderr.contains(fragment), "\(label): '\(r.stderr)' does not name '\(fragment)'", file: file, line: line)
  }

  func testDescriptors() throws {
    for f in try files("descriptor") {
      try expectRefusal(["conv", String(decoding: try Data(contentsOf: f), as: UTF8.self), "--repetitions", "1"], f)
    }
  }

  func testSafetensors() throws {
    let dir = try CommandLine.temporaryDirectory()
    for f in try files("safetensors") {
      let logits = dir.appendingPathComponent(f.lastPathComponent + ".npy")
      try expectRefusal(["run", "--model", "resnet18", "--size", "32", "--backends", "naive", "--weights", f.path, "--dump-logits", logits.path], f)
      XCTAssertFalse(FileManager.default.fileExists(atPath: logits.path), "a refused run wrote output")
    }
  }

  func testNpyInputs() throws {
    for f in try files("npy") {
      try expectRefusal(["run", "--model", "resnet18", "--size", "32", "--backends", "naive", "--input", f.path], f)
    }
  }

  func testPlans() throws {
    for f in try files("plan") {
      try expectRefusal(["run", "--model", "resnet18", "--size", "32", "--backends", "naive", "--plan", f.path], f)
    }
  }

  func testCSVs() throws {
    for f in try files("csv") {
      try expectRefusal(["compare", f.path, f.path], f)
    }
  }

  func testResultsFiles() throws {
    for f in try files("results") {
      try expectRefusal(["compare", f.path, f.path], f)
    }
  }

  func testBatchFiles() throws {
    for f in try files("batch") {
      try expectRefusal(["conv", "--batch", f.path, "--backend", "naive", "--repetitions", "1"], f)
    }
  }

  func testEveryExpectationNamesAFile() {
    for key in Self.expected.keys {
      XCTAssertTrue(FileManager.default.fileExists(atPath: Self.corpus.appendingPathComponent(key).path), "\(key) is listed but absent")
    }
  }
}
