import Foundation
import XCTest

/// Replays the committed corpus of malformed inputs (Tests/Corpus) through
/// the CLI: each must give one line on stderr, nothing on stdout, exit 2.
final class CorpusReplayTests: XCTestCase {
  private static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Corpus")

  private func files(_ folder: String) throws -> [URL] {
    let dir = Self.corpus.appendingPathComponent(folder)
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    XCTAssertGreaterThanOrEqual(names.count, 5, "corpus folder \(folder) is nearly empty")
    return names.map { dir.appendingPathComponent($0) }
  }

  private func expectRefusal(_ arguments: [String], _ input: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let r = try CommandLine.run(arguments)
    let label = "\(input.lastPathComponent): \(arguments.joined(separator: " "))"
    XCTAssertEqual(r.status, 2, "\(label) → \(r.stderr)", file: file, line: line)
    XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(label) printed: \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stdout.isEmpty, "\(label) printed data: \(r.stdout)", file: file, line: line)
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
}
