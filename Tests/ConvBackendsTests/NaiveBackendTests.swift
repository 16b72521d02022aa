@testable import ConvBackends
import ConvCore
import XCTest

final class NaiveBackendTests: XCTestCase {
  func testResNet50Shapes() throws {
    for descriptor in ConvTestSupport.resnet50Shapes {
      try ConvTestSupport.check(NaiveDirectBackend(), ConvProblem(descriptor: descriptor), seed: UInt64(descriptor.count))
    }
  }

  func testGeneratedEdgeShapes() throws {
    let shapes = ConvTestSupport.edgeShapes(count: 60, seed: 11, maxChannels: 17)
    XCTAssertTrue(shapes.contains { $0.strideHeight == 2 } && shapes.contains { $0.kernelHeight == 7 } && shapes.contains { $0.padTop == 3 })
    for (i, p) in shapes.enumerated() { try ConvTestSupport.check(NaiveDirectBackend(), p, seed: UInt64(i)) }
  }

  func testRejectsUnknownConfiguration() {
    let p = ConvProblem(inChannels: 2, inHeight: 4, outChannels: 2, kernelHeight: 1)
    XCTAssertThrowsError(try NaiveDirectBackend().prepare(p, weights: .random(for: p, seed: 0), config: BackendConfig(["x": 1])))
  }

  func testRegistryResolvesNamesAndRejectsUnknown() throws {
    XCTAssertEqual(BackendRegistry.all.first?.name, "naive")
    XCTAssertEqual(Set(BackendRegistry.names).count, BackendRegistry.names.count, "backend names are unique")
    XCTAssertEqual(try BackendRegistry.resolve("naive").map(\.name), ["naive"])
    XCTAssertThrowsError(try BackendRegistry.resolve("naive,fastest")) { error in
      XCTAssertTrue("\(error)".contains("unknown backend 'fastest'"))
    }
    XCTAssertEqual(BackendRegistry.fallback(for: ConvProblem(inChannels: 1, inHeight: 3, outChannels: 1, kernelHeight: 3))?.availability, .available)
  }
}
