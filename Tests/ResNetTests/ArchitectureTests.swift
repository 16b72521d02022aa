import ConvCore
@testable import ResNet
import XCTest

final class ArchitectureTests: XCTestCase {
  /// Parameter and MAC totals against torchvision's published figures
  /// (parameters exactly; its "GFLOPS" column, which counts multiply-adds of
  /// the convolutions and fc, to the two decimals it prints), at 224×224,
  /// batch 1. ResNet-18's exact MAC count is also worked by hand:
  /// conv1 118,013,952 + layer1 4×115,605,504 + layers 2–4 3×(57,802,752 +
  /// 3×115,605,504 + 6,422,528) + fc 512,000 = 1,814,073,344.
  func testTotalsMatchTorchvision() throws {
    let expected: [(ResNetDepth, Int, Double)] = [
      (.resnet18, 11_689_512, 1.81), (.resnet34, 21_797_672, 3.66), (.resnet50, 25_557_032, 4.09),
      (.resnet101, 44_549_160, 7.80), (.resnet152, 60_192_808, 11.51),
    ]
    for (depth, parameters, gmac) in expected {
      for variant in [ResNetVariant.v1, .v1_5] {
        let model = try ResNetModel(depth: depth, variant: variant)
        XCTAssertEqual(model.parameterCount, parameters, "\(depth) \(variant) parameters")
        if variant == .v1_5 || !depth.usesBottleneck {
          XCTAssertEqual((Double(model.macs) / 1e7).rounded() / 100, gmac, "\(depth) \(variant) GMAC")
        }
      }
    }
    XCTAssertEqual(try ResNetModel(depth: .resnet18).macs, 1_814_073_344)
    XCTAssertEqual(try ResNetModel(depth: .resnet50).macs, 4_089_184_256)
    // v1 moves the stride of each stage's first bottleneck to its 1×1, so the 3×3 runs at the lower resolution.
    XCTAssertEqual((Double(try ResNetModel(depth: .resnet50, variant: .v1).macs) / 1e6).rounded() / 1000, 3.858)
    XCTAssertLessThan(try ResNetModel(depth: .resnet152, variant: .v1).macs, try ResNetModel(depth: .resnet152).macs)
  }

  func testLayerNamesFollowTorchvision() throws {
    let model = try ResNetModel(depth: .resnet50)
    let names = model.layers.map(\.name)
    XCTAssertEqual(names.prefix(6), ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.conv3", "layer1.0.downsample.0", "layer1.1.conv1"])
    XCTAssertEqual(names.last, "fc")
    XCTAssertEqual(model.layers.count, 54)
    XCTAssertEqual(model.layers.first?.batchNormName, "bn1")
    XCTAssertEqual(model.layers[4].batchNormName, "layer1.0.downsample.1")
    XCTAssertEqual(model.distinctShapes.count, 24)
  }

  func testVariantMovesTheStride() throws {
    let v15 = try ResNetModel(depth: .resnet50, variant: .v1_5)
    let v1 = try ResNetModel(depth: .resnet50, variant: .v1)
    func layer(_ m: ResNetModel, _ name: String) -> ConvProblem { m.layers.first { $0.name == name }!.problem }
    XCTAssertEqual(layer(v15, "layer2.0.conv1").strideHeight, 1)
    XCTAssertEqual(layer(v15, "layer2.0.conv2").strideHeight, 2)
    XCTAssertEqual(layer(v1, "layer2.0.conv1").strideHeight, 2)
    XCTAssertEqual(layer(v1, "layer2.0.conv2").strideHeight, 1)
    // Basic blocks put the stride on their first 3×3 in both variants.
    XCTAssertEqual(layer(try ResNetModel(depth: .resnet18, variant: .v1), "layer2.0.conv1").strideHeight, 2)
  }

  func testOtherInputSizesBatchesAndClasses() throws {
    let m = try ResNetModel(depth: .resnet18, batch: 3, inputSize: 97, classes: 10)
    XCTAssertEqual(m.layers.last?.problem.outChannels, 10)
    XCTAssertEqual(m.layers.first?.problem.batch, 3)
    XCTAssertEqual(m.layers.first?.problem.outHeight, 49)
    // Every layer's input matches the previous stage's output: the model is internally consistent.
    for l in m.layers { XCTAssertNil(l.problem.invalidReason, l.name) }
    XCTAssertThrowsError(try ResNetModel(depth: .resnet50, inputSize: 16))
    XCTAssertThrowsError(try ResNetModel(depth: .resnet50, batch: 0))
  }
}
