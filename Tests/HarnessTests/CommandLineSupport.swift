import Foundation
import TestSupport
import XCTest

/// A class of this test bundle, to find the bundle.
private final class Marker {}

/// Runs the built `resnet-bench` binary as a user would.
enum CommandLine {
  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// The binary built beside the test bundle (release when testing with -c release).
  static var binary: URL {
    get throws {
      let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      // Beside the test bundle first (any --scratch-path), then the default build folders.
      let besideTests = Bundle(for: Marker.self).bundleURL.deletingLastPathComponent().appendingPathComponent("resnet-bench")
      let candidates = [besideTests] + ["release", "debug"].map { root.appendingPathComponent(".build/\($0)/resnet-bench") }
      guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        if TestEnvironment.isCI { throw TestEnvironment.MissingRequirement("the resnet-bench binary is not built") }
        throw XCTSkip("resnet-bench binary not built")
      }
      return found
    }
  }

  static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
    let process = Process()
    process.executableURL = try binary
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting so a full pipe cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                  stderr: String(decoding: errData, as: UTF8.self))
  }

  static func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-bench-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}
