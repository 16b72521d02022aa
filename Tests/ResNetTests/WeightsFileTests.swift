import ConvCore
import Foundation
@testable import ResNet
import XCTest

final class WeightsFileTests: XCTestCase {
  private func model() throws -> ResNetModel { try ResNetModel(depth: .resnet18, inputSize: 64, classes: 10) }

  func testSeededWeightsAreDeterministicAndComplete() throws {
    let m = try model()
    let a = ResNetWeights.seeded(for: m, seed: 7), b = ResNetWeights.seeded(for: m, seed: 7), c = ResNetWeights.seeded(for: m, seed: 8)
    XCTAssertEqual(a, b)
    XCTAssertNotEqual(a["conv1.weight"], c["conv1.weight"])
    XCTAssertEqual(Set(a.keys), Set(ResNetWeights.expectedTensors(for: m).map(\.key)))
    // BatchNorm statistics are not the identity, so folding changes the weights.
    let mean = a["bn1.running_mean"]!.values
    XCTAssertGreaterThan(mean.map(abs).max()!, 0.01)
  }

  func testSafetensorsRoundTrip() throws {
    let m = try model()
    let dict = ResNetWeights.seeded(for: m, seed: 3)
    let data = Safetensors.encode(dict, metadata: ["model": "resnet18"])
    XCTAssertEqual(data.count % 4, 0)
    let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    XCTAssertEqual(headerLength % 8, 0, "data section is 8-byte aligned")
    let decoded = try Safetensors.decode(data)
    XCTAssertEqual(decoded.tensors, dict)
    XCTAssertTrue(decoded.nonFloat.isEmpty)
  }

  func testBatchNormFolding() throws {
    let m = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 2)
    var dict = ResNetWeights.seeded(for: m, seed: 1)
    let folded = try ResNetWeights.fold(dict, for: m)
    let w = dict["conv1.weight"]!.values[0], gamma = dict["bn1.weight"]!.values[0], beta = dict["bn1.bias"]!.values[0]
    let mean = dict["bn1.running_mean"]!.values[0], variance = dict["bn1.running_var"]!.values[0]
    let scale = gamma / (variance + 1e-5).squareRoot()
    XCTAssertEqual(folded[0].weights[0], w * scale, accuracy: 1e-6)
    XCTAssertEqual(folded[0].bias[0], beta - mean * scale, accuracy: 1e-6)
    XCTAssertEqual(folded.last!.bias, dict["fc.bias"]!.values)
    dict["bn1.running_var"]!.values[3] = -1
    XCTAssertThrowsError(try ResNetWeights.fold(dict, for: m)) { XCTAssertTrue("\($0)".contains("bn1.running_var")) }
  }

  func testMissingTensorWrongShapeAndWrongDtype() throws {
    let m = try model()
    var dict = ResNetWeights.seeded(for: m, seed: 0)
    dict["layer2.0.downsample.1.running_var"] = nil
    XCTAssertThrowsError(try ResNetWeights.fold(dict, for: m)) { error in
      XCTAssertEqual("\(error)", "weights: missing tensor 'layer2.0.downsample.1.running_var'")
    }
    dict = ResNetWeights.seeded(for: m, seed: 0)
    dict["fc.weight"] = NamedTensor(shape: [5, 512], values: [Float](repeating: 0, count: 2560))
    XCTAssertThrowsError(try ResNetWeights.fold(dict, for: m)) { error in
      XCTAssertTrue("\(error)".contains("'fc.weight' has shape [5, 512], expected [10, 512]"), "\(error)")
    }
    dict = ResNetWeights.seeded(for: m, seed: 0)
    dict["conv1.weight"] = nil
    XCTAssertThrowsError(try ResNetWeights.fold(dict, for: m, otherDtypes: ["conv1.weight": "F16"])) { error in
      XCTAssertTrue("\(error)".contains("'conv1.weight' has dtype F16"), "\(error)")
    }
  }

  /// Builds a file by hand: header JSON then raw bytes.
  private func file(header: String, data: [UInt8] = []) -> Data {
    var out = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: header.utf8)
    out.append(contentsOf: data)
    return out
  }

  func testMalformedFilesGiveOneLineErrorsNamingTheProblem() throws {
    let good = Safetensors.encode(["a": NamedTensor(shape: [2], values: [1, 2])])
    let cases: [(Data, String)] = [
      (Data([1, 2, 3]), "truncated at byte 3"),
      (good.prefix(20), "truncated at byte 20"),
      (good.prefix(good.count - 4), "truncated: tensor 'a' ends at byte"),
      (file(header: "{not json"), "malformed JSON header in bytes 8..<17"),
      (file(header: "[1,2]"), "malformed JSON header"),
      (file(header: #"{"a":{"dtype":"F32","shape":[2]}}"#), "tensor 'a' lacks dtype, shape or data_offsets"),
      (file(header: #"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "unknown dtype 'Q4'"),
      // A name holding a line break is quoted escaped, so the message stays one line.
      (file(header: #"{"a\nb":{"dtype":"Q\n4","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
       "tensor 'a\\u{a}b' has unknown dtype 'Q\\u{a}4'"),
      (file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "needs 12 bytes"),
      (file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: [UInt8](repeating: 0, count: 8)), "malformed data_offsets"),
      (file(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "malformed shape"),
      // Sizes that overflow Int must be refused, not wrap to a small byte count (fuzz findings).
      (file(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#), "too large to address"),
      (file(header: #"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#), "too large to address"),
      (file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e300]}}"#, data: [0, 0, 0, 0]), "malformed data_offsets"),
      (file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775807]}}"#, data: [0, 0, 0, 0]), "ends at byte 9223372036854775807"),
    ]
    var huge = Data()
    withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { huge.append(contentsOf: $0) }
    for (data, expected) in cases + [(huge, "larger than")] {
      XCTAssertThrowsError(try Safetensors.decode(data, source: "w.safetensors")) { error in
        let message = "\(error)"
        XCTAssertTrue(message.contains(expected), "got '\(message)', expected '\(expected)'")
        XCTAssertTrue(message.hasPrefix("w.safetensors: "))
        XCTAssertFalse(message.contains("\n"))
      }
    }
  }

  func testNonFloatTensorsAreSkippedButKnown() throws {
    let header = #"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
    let contents = try Safetensors.decode(file(header: header, data: [UInt8](repeating: 0, count: 8) + [0, 0, 128, 63]))
    XCTAssertEqual(contents.tensors["a"]?.values, [1])
    XCTAssertEqual(contents.nonFloat, ["n": "I64"])
  }

  func testNpyRoundTripAndErrors() throws {
    let array = NpyFile.Array(shape: [2, 3], values: [1, -2, 3.5, 0, .pi, 1e-8])
    let data = NpyFile.encode(array)
    XCTAssertEqual((data.count - 24) % 64, 0, "header padded to 64 bytes")
    XCTAssertEqual(try NpyFile.decode(data), array)
    XCTAssertEqual(try NpyFile.decode(NpyFile.encode(NpyFile.Array(shape: [4], values: [1, 2, 3, 4]))).shape, [4])
    XCTAssertThrowsError(try NpyFile.decode(Data("hello world".utf8))) { XCTAssertTrue("\($0)".contains("bad magic")) }
    XCTAssertThrowsError(try NpyFile.decode(data.prefix(data.count - 1))) { XCTAssertTrue("\($0)".contains("needs 24 data bytes")) }
    var f8 = [UInt8](data)
    XCTAssertEqual(String(decoding: f8[20..<25], as: UTF8.self), "'<f4'")
    f8[23] = UInt8(ascii: "8")
    XCTAssertThrowsError(try NpyFile.decode(Data(f8))) { XCTAssertTrue("\($0)".contains("not supported"), "\($0)") }
    // A shape whose byte count overflows Int is refused, not wrapped to 0 (fuzz finding).
    // The header is padded with spaces, so a longer shape still fits in its stated length.
    let header = data.prefix(data.count - 24)
    let shape = try XCTUnwrap(header.range(of: Data("(2, 3)".utf8)))
    for huge in ["(9223372036854775807,)", "(1, 4611686018427387904, 1, 4)"] {
      var edited = header
      edited.replaceSubrange(shape, with: Data(huge.utf8))
      XCTAssertThrowsError(try NpyFile.decode(edited)) { XCTAssertTrue("\($0)".contains("too large to address"), "\($0)") }
    }
  }
}
