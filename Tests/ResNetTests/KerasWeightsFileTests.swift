import Foundation
@testable import ResNet
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Keras HDF5 weights: the committed fixtures (scripts/make-keras-fixtures.py),
/// our own writer, and the one-line refusals of malformed files.
final class KerasWeightsFileTests: XCTestCase {
  private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/keras")

  private func fixture(_ name: String) -> URL { Self.fixtures.appendingPathComponent(name) }

  /// True when libhdf5 is loadable. Without it the test is skipped, except
  /// under CI (`CI=true`), where a missing library must not pass unnoticed.
  private func hdf5Available(file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
    guard let reason = KerasWeightsFile.unavailableReason else { return true }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
      XCTFail(reason, file: file, line: line)
      return false
    }
    throw XCTSkip(reason)
  }

  private func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keras-weights-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
    return folder
  }

  /// What the fixture generator stores: `count` values `index * 0.25 + start`.
  private func values(_ count: Int, from start: Float) -> [Float] { (0..<count).map { Float($0) * 0.25 + start } }

  private func weight(_ name: String, _ shape: [Int], from start: Float) -> KerasWeightsFile.Weight {
    KerasWeightsFile.Weight(name: name, shape: shape, values: values(shape.reduce(1, *), from: start))
  }

  /// The stem every well-formed multi-layer fixture holds, weight names ending in `suffix`.
  private func stem(suffix: String) -> KerasWeightsFile {
    KerasWeightsFile(layers: [
      .init(name: "input_1", weights: []),
      .init(name: "conv1_conv", weights: [weight("conv1_conv/kernel\(suffix)", [3, 3, 2, 4], from: 0),
                                          weight("conv1_conv/bias\(suffix)", [4], from: 100)]),
      .init(name: "conv1_bn", weights: [weight("conv1_bn/gamma\(suffix)", [4], from: 1), weight("conv1_bn/beta\(suffix)", [4], from: 2),
                                        weight("conv1_bn/moving_mean\(suffix)", [4], from: 3),
                                        weight("conv1_bn/moving_variance\(suffix)", [4], from: 4)]),
      .init(name: "conv1_relu", weights: []),
    ])
  }

  func testReadsKeras2LayoutWithFixedLengthStrings() throws {
    guard try hdf5Available() else { return }
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: fixture("keras2.h5")), stem(suffix: ":0"))
  }

  func testReadsKeras3LegacyLayoutWithoutColonZero() throws {
    guard try hdf5Available() else { return }
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: fixture("keras3-legacy.h5")), stem(suffix: ""))
  }

  func testReadsVariableLengthUTF8Strings() throws {
    guard try hdf5Available() else { return }
    let expected = KerasWeightsFile(layers: [
      .init(name: "dense_\u{fc}", weights: [weight("dense_\u{fc}/kernel:0", [2, 3], from: 5), weight("dense_\u{fc}/bias:0", [3], from: 6)]),
    ])
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: fixture("vlen-strings.h5")), expected)
  }

  func testReadsWeightsOfAWholeModelFile() throws {
    guard try hdf5Available() else { return }
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: fixture("whole-model.h5")), stem(suffix: ":0"))
  }

  func testFindsTheSignatureAfterAUserBlock() throws {
    guard try hdf5Available() else { return }
    let file = try KerasWeightsFile.read(contentsOf: fixture("user-block.h5"))
    XCTAssertEqual(file, KerasWeightsFile(layers: [.init(name: "dense", weights: [weight("dense/kernel:0", [2, 2], from: 0)])]))
  }

  func testRoundTripThroughOwnWriter() throws {
    guard try hdf5Available() else { return }
    let url = try temporaryFolder().appendingPathComponent("weights.h5")
    var original = stem(suffix: ":0")
    original.layers.append(.init(name: "odd_shapes", weights: [
      .init(name: "odd_shapes/scalar:0", shape: [], values: [-0.5]),
      .init(name: "odd_shapes/empty:0", shape: [0, 3], values: []),
      .init(name: "odd_shapes/deeper/path:0", shape: [2, 1, 1, 1, 2], values: [.infinity, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 0]),
    ]))
    try original.write(to: url)
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: url), original)

    // A second write replaces the file and leaves no temporary file behind.
    let replacement = KerasWeightsFile(layers: [.init(name: "only", weights: [])])
    try replacement.write(to: url, kerasVersion: "3.5.0", backend: "jax")
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: url), replacement)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["weights.h5"])
  }

  /// Keras splits a name list longer than 64512 bytes into numbered
  /// attributes; the writer does the same and the reader joins them.
  func testLongNameListsAreSplitAsKerasDoes() throws {
    guard try hdf5Available() else { return }
    let url = try temporaryFolder().appendingPathComponent("many.h5")
    let layers = (0..<300).map { KerasWeightsFile.Layer(name: String(format: "layer_%03d_", $0) + String(repeating: "x", count: 240), weights: []) }
    try KerasWeightsFile(layers: layers).write(to: url)
    XCTAssertEqual(try KerasWeightsFile.read(contentsOf: url).layers, layers)

    let h5 = try HDF5Library.shared.get()
    let attributes = try h5.serialized { () throws -> [String: Bool] in
      let file = try h5.valid(h5.H5Fopen(url.path, HDF5Library.readOnly, HDF5Library.defaultList), "open")
      defer { _ = h5.H5Fclose(file) }
      return Dictionary(uniqueKeysWithValues: ["layer_names", "layer_names0", "layer_names1", "layer_names2"].map { ($0, h5.H5Aexists(file, $0) > 0) })
    }
    XCTAssertEqual(attributes, ["layer_names": false, "layer_names0": true, "layer_names1": true, "layer_names2": false])
  }

  func testWriteRefusesValuesThatDoNotMatchTheShapeAndLeavesNoFile() throws {
    let folder = try temporaryFolder()
    let url = folder.appendingPathComponent("bad.h5")
    let bad = KerasWeightsFile(layers: [.init(name: "dense", weights: [.init(name: "dense/kernel:0", shape: [2, 2], values: [1, 2, 3])])])
    XCTAssertThrowsError(try bad.write(to: url)) { error in
      XCTAssertEqual("\(error)", "\(url.path): weight 'dense/kernel:0' of layer 'dense' has shape [2, 2] but 3 values")
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])

    guard try hdf5Available() else { return }
    let duplicate = KerasWeightsFile(layers: [.init(name: "dense", weights: []), .init(name: "dense", weights: [])])
    XCTAssertThrowsError(try duplicate.write(to: url)) { error in
      XCTAssertTrue("\(error)".hasPrefix("\(url.path): cannot create group '/dense' for layer 'dense' ("), "\(error)")
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "the temporary file is removed")
  }

  /// Runs `body` with file descriptor 2 sent to a file, and returns what was written to it.
  private func standardError(during body: () -> Void) throws -> String {
    let url = try temporaryFolder().appendingPathComponent("stderr.txt")
    let capture = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let saved = dup(2)
    fflush(stderr)
    dup2(capture, 2)
    body()
    fflush(stderr)
    dup2(saved, 2)
    close(saved)
    close(capture)
    return try String(contentsOf: url, encoding: .utf8)
  }

  private func assertRefused(_ url: URL, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
    var message = ""
    let printed = try standardError {
      do {
        _ = try KerasWeightsFile.read(contentsOf: url)
        message = "read succeeded"
      } catch {
        message = "\(error)"
      }
    }
    XCTAssertTrue(message.hasPrefix("\(url.path): \(expected)"), "got: \(message)", file: file, line: line)
    XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
    XCTAssertEqual(printed, "", "libhdf5 printed nothing itself", file: file, line: line)
  }

  /// Checked before libhdf5 is needed, so these hold on any machine.
  func testNonHDF5AndMissingFilesAreNamed() throws {
    try assertRefused(fixture("not-hdf5.h5"), "not an HDF5 file (no HDF5 signature at byte 0, 512, 1024, …)")
    try assertRefused(fixture("does-not-exist.h5"), "cannot read (")
    let folder = try temporaryFolder()
    let empty = folder.appendingPathComponent("empty.h5")
    try Data().write(to: empty)
    try assertRefused(empty, "not an HDF5 file (")
    try assertRefused(folder, "cannot read (")
  }

  func testMalformedFilesGiveOneLineErrorsNamingTheProblem() throws {
    guard try hdf5Available() else { return }
    let cases: [(String, String)] = [
      ("no-layer-names.h5", "no 'layer_names' attribute at '/' or in '/model_weights'; not a Keras weights file"),
      ("layer-names-not-strings.h5", "attribute 'layer_names' of '/' holds int32 values, expected strings"),
      ("missing-layer-group.h5", "layer 'ghost' is listed in layer_names but there is no group '/ghost'"),
      ("missing-dataset.h5", "weight 'dense/bias:0' of layer 'dense' has no dataset '/dense/dense/bias:0'"),
      ("float64-dataset.h5", "dataset '/dense/dense/kernel:0' holds float64 values; only float32 is read"),
      ("float16-dataset.h5", "dataset '/dense/dense/kernel:0' holds float16 values; only float32 is read"),
      ("int32-dataset.h5", "dataset '/dense/dense/kernel:0' holds int32 values; only float32 is read"),
      ("huge-shape.h5", "dataset '/dense/dense/kernel:0' has shape [65536, 65536, 2], 8589934592 values, more than the 2^28 accepted"),
      ("null-dataspace.h5", "dataset '/dense/dense/kernel:0' has a null dataspace (no shape, no values)"),
      ("overflowing-shape.h5", "dataset '/dense/dense/kernel:0' has shape [1099511627776, 1099511627776], too large to address"),
    ]
    for (name, expected) in cases { try assertRefused(fixture(name), expected) }

    // A truncated file still has its signature; libhdf5 itself refuses it.
    let truncated = try temporaryFolder().appendingPathComponent("truncated.h5")
    try Data(contentsOf: fixture("keras2.h5")).prefix(3000).write(to: truncated)
    try assertRefused(truncated, "libhdf5 cannot open it (")
  }

  func testUnloadableLibraryIsExplained() {
    let missing = HDF5Library.load(candidates: ["/nonexistent/libhdf5.so"])
    XCTAssertEqual(missing.failure?.message,
                   "libhdf5 not loadable (/nonexistent/libhdf5.so: cannot open shared object file: No such file or directory); install libhdf5-dev")
    let notHDF5 = HDF5Library.load(candidates: ["libm.so.6"])
    XCTAssertEqual(notHDF5.failure?.message, "libhdf5 not loadable (libm.so.6 lacks H5open); install libhdf5-dev")
  }
}

private extension Result {
  var failure: Failure? {
    if case .failure(let failure) = self { return failure }
    return nil
  }
}
