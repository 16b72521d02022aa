import ConvCore
import XCTest

final class ConvProblemTests: XCTestCase {
  func testParsesFullDescriptor() throws {
    let p = try ConvProblem(descriptor: "mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1")
    XCTAssertEqual(p, ConvProblem(batch: 1, inChannels: 64, inHeight: 56, outChannels: 64, kernelHeight: 3, padHeight: 1))
    XCTAssertEqual(p.outHeight, 56)
    XCTAssertEqual(p.outWidth, 56)
    XCTAssertEqual(p.macs, 56 * 56 * 64 * 64 * 9)
    XCTAssertEqual(p.flops, 2 * p.macs)
  }

  func testBenchdnnDefaultsForOmittedFields() throws {
    let p = try ConvProblem(descriptor: "ic3ih224oc64kh7sh2ph3")
    XCTAssertEqual(p.batch, ConvProblem.benchdnnDefaultBatch)
    XCTAssertEqual(p.inWidth, 224)
    XCTAssertEqual(p.kernelWidth, 7)
    XCTAssertEqual(p.strideWidth, 2)
    XCTAssertEqual(p.padLeft, 3)
    XCTAssertEqual(p.outHeight, 112)
    let q = try ConvProblem(descriptor: "mb4ic16ih9iw5oc8kh1")
    XCTAssertEqual(q.strideHeight, 1)
    XCTAssertEqual(q.padTop, 0)
    XCTAssertEqual(q.outWidth, 5)
  }

  func testRoundTripsThroughDescriptor() throws {
    let problems = [
      ConvProblem(batch: 3, inChannels: 17, inHeight: 13, inWidth: 7, outChannels: 33, kernelHeight: 5, kernelWidth: 3,
                  strideHeight: 2, strideWidth: 1, padHeight: 2, padWidth: 1),
      ConvProblem(inChannels: 1, inHeight: 1, outChannels: 1, kernelHeight: 1),
    ]
    for p in problems {
      let parsed = try ConvProblem(descriptor: p.descriptor)
      XCTAssertEqual(parsed, p)
      XCTAssertEqual(parsed.descriptor, p.descriptor)
    }
  }

  func testNameIsParsedPrintedAndIgnoredByIdentity() throws {
    let p = try ConvProblem(descriptor: "mb1ic64ih56oc64kh3ph1n\"layer1.0.conv2\"")
    XCTAssertEqual(p.name, "layer1.0.conv2")
    XCTAssertEqual(p.description, p.descriptor + "n\"layer1.0.conv2\"")
    XCTAssertEqual(try ConvProblem(descriptor: p.description).name, "layer1.0.conv2")
    var unnamed = p
    unnamed.name = nil
    XCTAssertEqual(p, unnamed)
    XCTAssertEqual(Set([p, unnamed]).count, 1)
    XCTAssertEqual(try ConvProblem(descriptor: "ic3ih8oc4kh3nresnet_0").name, "resnet_0")
  }

  func testAcceptsBenchdnnSeparatorsGroupOneAndExplicitOutputSize() throws {
    let p = try ConvProblem(descriptor: "g1mb1_ic3ih224iw224_oc64oh112ow112_kh7kw7_sh2sw2_ph3pw3")
    XCTAssertEqual(p.outHeight, 112)
    XCTAssertEqual(try ConvProblem(descriptor: "mb1ic8ih8oc8kh3ph1dh0dw0").kernelHeight, 3)
  }

  func testMalformedDescriptorsNameTheBadPart() {
    let cases: [(String, String)] = [
      ("", "empty"),
      ("mb1ic64ih56oc64kh3xx1", "unknown field at 'xx1'"),
      ("mb1icih56oc64kh3", "'ic' has no number"),
      ("mb1ih56oc64kh3", "lacks 'ic'"),
      ("mb1ic64ih56kh3", "lacks 'oc'"),
      ("mb1ic64oc64kh3", "lacks 'ih'"),
      ("mb1ic64ih56oc64", "lacks 'kh'"),
      ("mb1ic64ic32ih56oc64kh3", "'ic' appears twice"),
      ("mb1ic64id4ih56oc64kh3", "3-D"),
      ("g3mb1ic64ih56oc64kh3", "multiples of g3"),
      ("g0mb1ic64ih56oc64kh3", "g must be at least 1"),
      ("mb0ic64ih56oc64kh3", "mb must be at least 1"),
      ("mb1ic64ih2oc64kh7ph1", "does not fit"),
      ("mb1ic64ih56oc64kh3sh0", "sh must be at least 1"),
      ("mb1ic64ih56oc64oh0kh3ph1", "does not fit"),
      ("mb1ic64ih56oc64kh3dh9999999999999999999999", "exceeds the supported"),
      ("mb1ic64ih56oc64kh3n\"open", "unterminated name"),
      ("mb1ic2000000ih8oc4kh3", "exceeds the supported"),
      ("mb1ic5ih8oc4kh3nab\"c", "a quote inside the unquoted name"),
      ("mb1ic100000ih100000oc4kh3", "input tensor would hold more than"),
    ]
    for (text, expected) in cases {
      XCTAssertThrowsError(try ConvProblem(descriptor: text), text) { error in
        let message = (error as? DescriptorError)?.message ?? ""
        XCTAssertTrue(message.contains(expected), "'\(text)' gave '\(message)', expected it to mention '\(expected)'")
        XCTAssertFalse(message.contains("\n"), "error for '\(text)' is not one line")
      }
    }
  }
}
