import ConvCore
import Foundation
@testable import ResNet
import XCTest

/// Keras's layout of ResNet-50 (`keras.applications.ResNet50`) and the
/// tutorial's 'same'-padded stem.
final class KerasModelTests: XCTestCase {
  /// Every layer with weights, in Keras's order: conv1_conv, conv1_bn, then per
  /// stage 2–5 and block: the projection `_0_` (first block only), `_1_`, `_2_`,
  /// `_3_`, each a convolution and its BatchNormalization; predictions last.
  static func kerasWeightLayers(stageBlocks: [Int]) -> [String] {
    var names = ["conv1_conv", "conv1_bn"]
    for (stage, blocks) in stageBlocks.enumerated() {
      for block in 1...blocks {
        for conv in (block == 1 ? [0, 1, 2, 3] : [1, 2, 3]) {
          names += ["conv\(stage + 2)_block\(block)_\(conv)_conv", "conv\(stage + 2)_block\(block)_\(conv)_bn"]
        }
      }
    }
    return names + ["predictions"]
  }

  func testLayerNamesMapEveryLayer() throws {
    for variant in [ResNetVariant.keras, .kerasSame] {
      let model = try ResNetModel(depth: .resnet50, variant: variant)
      var names: [String] = []
      for layer in model.layers { names.append(layer.name); if let bn = layer.batchNormName { names.append(bn) } }
      XCTAssertEqual(names, Self.kerasWeightLayers(stageBlocks: [3, 4, 6, 3]), variant.rawValue)
      XCTAssertTrue(model.layers.dropLast().allSatisfy(\.hasBias), "every Keras convolution has a bias")
      XCTAssertEqual(model.parameterCount, 25_636_712, "Keras's count_params for ResNet50")
      XCTAssertEqual(model.batchNormEpsilon, 1.001e-5)
    }
    // v1 strides: on the first 1×1 (and the projection) of a stage's first block.
    let model = try ResNetModel(depth: .resnet50, variant: .keras)
    func layer(_ name: String) -> ConvProblem { model.layers.first { $0.name == name }!.problem }
    XCTAssertEqual(layer("conv3_block1_1_conv").strideHeight, 2)
    XCTAssertEqual(layer("conv3_block1_0_conv").strideHeight, 2)
    XCTAssertEqual(layer("conv3_block1_2_conv").strideHeight, 1)
    // The explicit ZeroPadding2D(3) + valid 7×7/2 stem is a symmetric pad of 3.
    XCTAssertEqual(layer("conv1_conv").descriptor, "mb1ic3ih224iw224oc64kh7kw7sh2sw2ph3pw3")
    XCTAssertEqual(try ResNetModel(depth: .resnet101, variant: .keras).layers.count, 105)
    XCTAssertThrowsError(try ResNetModel(depth: .resnet18, variant: .keras))
    XCTAssertThrowsError(try ResNetModel(depth: .resnext50_32x4d, variant: .keras))
  }

  /// TensorFlow's 'same' rule: out = ⌈size / stride⌉, total padding
  /// max((out − 1)·stride + kernel − size, 0), the odd one after.
  func testSamePaddingFollowsTensorFlow() {
    let cases: [(size: Int, kernel: Int, stride: Int, before: Int, after: Int)] = [
      (224, 7, 2, 2, 3), (225, 7, 2, 3, 3), (112, 3, 2, 0, 1), (113, 3, 2, 1, 1),
      (10, 3, 1, 1, 1), (10, 4, 1, 1, 2), (7, 7, 1, 3, 3), (9, 2, 2, 0, 1), (8, 1, 2, 0, 0), (5, 7, 1, 3, 3),
    ]
    for c in cases {
      let pad = samePadding(size: c.size, kernel: c.kernel, stride: c.stride)
      XCTAssertEqual([pad.before, pad.after], [c.before, c.after], "size \(c.size) kernel \(c.kernel) stride \(c.stride)")
      let p = ConvProblem(inChannels: 1, inHeight: c.size, outChannels: 1, kernelHeight: c.kernel, strideHeight: c.stride,
                          padHeight: pad.before, padBottom: pad.after, padRight: pad.after)
      XCTAssertEqual(p.outHeight, (c.size + c.stride - 1) / c.stride, "'same' keeps ⌈size / stride⌉")
    }
  }

  func testTheTutorialStemPadsAsymmetrically() throws {
    let model = try ResNetModel(depth: .resnet50, variant: .kerasSame)
    let stem = model.layers[0].problem
    XCTAssertEqual([stem.padTop, stem.padBottom, stem.outHeight], [2, 3, 112])
    XCTAssertTrue(stem.hasAsymmetricPadding)
    XCTAssertEqual(stem.descriptor, "mb1ic3ih224iw224oc64oh112ow112kh7kw7sh2sw2ph2pw2")
    guard case .maxPool(_, _, let pool) = model.steps[1] else { return XCTFail("the max-pool follows the stem") }
    XCTAssertEqual([pool.padTop, pool.padBottom, pool.outHeight], [0, 1, 56])
    // keras (explicit padding) and keras-same compute different networks.
    let weights = ResNetWeights.seeded(for: model, seed: 1)
    let other = try ResNetModel(depth: .resnet50, variant: .keras)
    XCTAssertEqual(Set(weights.keys), Set(ResNetWeights.seeded(for: other, seed: 1).keys))
  }

  /// Keras's HWIO kernels and bias-before-BatchNorm fold to the same
  /// convolution as the equivalent torchvision-style OIHW weights.
  func testKerasWeightsFoldLikeTheirOIHWEquivalent() throws {
    let model = try ResNetModel(depth: .resnet50, variant: .keras, inputSize: 32, classes: 3)
    let dict = ResNetWeights.seeded(for: model, seed: 4)
    let folded = try ResNetWeights.fold(dict, for: model)
    let layer = model.layers[0], p = layer.problem
    let kernel = dict["conv1_conv/kernel"]!, bias = dict["conv1_conv/bias"]!.values
    let gamma = dict["conv1_bn/gamma"]!.values, beta = dict["conv1_bn/beta"]!.values
    let mean = dict["conv1_bn/moving_mean"]!.values, variance = dict["conv1_bn/moving_variance"]!.values
    XCTAssertEqual(kernel.shape, [7, 7, 3, 64])
    for (o, i, y, x) in [(0, 0, 0, 0), (5, 2, 3, 6), (63, 1, 6, 2)] {
      let scale = gamma[o] / (variance[o] + 1.001e-5).squareRoot()
      XCTAssertEqual(folded[0].weights[((o * 3 + i) * 7 + y) * 7 + x], kernel.values[((y * 7 + x) * 3 + i) * 64 + o] * scale, accuracy: 1e-6)
      XCTAssertEqual(folded[0].bias[o], beta[o] + (bias[o] - mean[o]) * scale, accuracy: 1e-6)
    }
    XCTAssertEqual(p.weightCount, kernel.values.count)
    XCTAssertThrowsError(try ResNetWeights.fold(dict.filter { $0.key != "conv2_block1_0_bn/beta" }, for: model)) { error in
      XCTAssertTrue("\(error)".contains("missing tensor 'conv2_block1_0_bn/beta'"), "\(error)")
    }
  }
}
