import Foundation
@testable import ResNet
import XCTest

final class AtomicFileTests: XCTestCase {
  private func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// A write interrupted after the temporary exists and before the rename
  /// leaves the old file whole and no temporary behind. The interruption is an
  /// error thrown after the temporary was written in full; a plain,
  /// non-atomic write would already have replaced the old file there.
  func testInterruptedWriteLeavesTheOldFileAndNoTemporary() throws {
    let dir = try folder()
    let file = dir.appendingPathComponent("plan.json")
    try Data("old".utf8).write(to: file)
    struct Interrupted: Error {}
    XCTAssertThrowsError(try AtomicFile.write(to: file) { temp in
      try Data("new, half written".utf8).write(to: temp)
      XCTAssertTrue(FileManager.default.fileExists(atPath: temp.path), "the temporary exists before the rename")
      XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "old")
      throw Interrupted()
    })
    XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "old")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["plan.json"])
    try AtomicFile.write(Data("new".utf8), to: file)
    XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "new")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["plan.json"])
  }
}
