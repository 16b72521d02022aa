import ConvBackends
import ConvCore
@testable import ResNet
import XCTest

/// `InferenceProgram.writingResidualsInPlace`: the rewritten program computes
/// what the model's does. Checked by running both over symbolic values: each
/// step writes a new value (named by the step) into its output slot, and every
/// read must find the same value in both programs.
final class InferenceProgramTests: XCTestCase {
  /// What each step reads (value names, in order) and the value left in the output slot.
  private func trace(_ program: InferenceProgram) -> (reads: [[Int]], output: Int?) {
    var contents = [Int: Int]()
    contents[0] = -1  // the image
    var reads: [[Int]] = []
    for (i, step) in program.steps.enumerated() {
      reads.append(step.reads.map { contents[$0] ?? -2 })
      contents[step.writes] = i
    }
    return (reads, contents[program.outputSlot])
  }

  private func models() throws -> [ResNetModel] {
    try [
      ResNetModel(depth: .resnet50), ResNetModel(depth: .resnet50, variant: .keras),
      ResNetModel(depth: .resnet18), ResNetModel(depth: .resnext50_32x4d), ResNetModel(depth: .resnet101, batch: 2, inputSize: 64),
    ]
  }

  func testEveryResidualStepWritesOverItsShortcutAndEveryReadFindsTheSameValue() throws {
    for model in try models() {
      let built = InferenceProgram(model)
      let rewritten = built.writingResidualsInPlace { _ in true }
      let residualSteps = model.steps.filter { if case .conv(_, _, _, _?, _) = $0 { true } else { false } }
      XCTAssertEqual(rewritten.inPlaceLayers.count, residualSteps.count, "\(model.name): every block writes over its shortcut")
      for step in rewritten.steps {
        if case let .conv(layer, _, output, residual?, _) = step {
          XCTAssertEqual(output, residual, "\(model.name) layer \(layer)")
        }
      }
      let (a, b) = (trace(built), trace(rewritten))
      XCTAssertEqual(a.reads, b.reads, "\(model.name): some step reads another value")
      XCTAssertEqual(a.output, b.output, "\(model.name): the logits")
      XCTAssertFalse(a.reads.joined().contains(-2), "\(model.name): a read of an unwritten slot")
      XCTAssertTrue(rewritten.steps.dropFirst().allSatisfy { $0.writes != 0 }, "\(model.name): the image slot is kept")
      for (slot, size) in rewritten.slotSizes.enumerated() {
        XCTAssertGreaterThanOrEqual(size, built.slotSizes[slot], "\(model.name) slot \(slot)")
      }
      // Every value fits the slot that now holds it.
      for step in rewritten.steps {
        guard case let .conv(layer, _, output, _, _) = step else { continue }
        XCTAssertLessThanOrEqual(model.layers[layer].problem.outputCount, rewritten.slotSizes[output], "\(model.name) layer \(layer)")
      }
    }
  }

  func testOnlyLayersAllowedAreRewritten() throws {
    let model = try ResNetModel(depth: .resnet50)
    let built = InferenceProgram(model)
    XCTAssertEqual(built.writingResidualsInPlace { _ in false }, built)
    let allowed = Set(model.layers.indices.filter { model.layers[$0].name.hasPrefix("layer3") })
    let rewritten = built.writingResidualsInPlace { allowed.contains($0) }
    XCTAssertEqual(rewritten.inPlaceLayers.count, 6)
    XCTAssertTrue(rewritten.inPlaceLayers.allSatisfy(allowed.contains))
    XCTAssertEqual(trace(built).reads, trace(rewritten).reads)
  }

  /// The trace catches a rewrite that moves the output without renaming the
  /// rest of the program (the next block would read a stale slot).
  func testTheTraceCatchesAnOutputMovedWithoutRenaming() throws {
    let model = try ResNetModel(depth: .resnet50)
    let built = InferenceProgram(model)
    var broken = built
    let i = try XCTUnwrap(built.steps.firstIndex { if case .conv(_, _, _, _?, _) = $0 { true } else { false } })
    guard case let .conv(layer, input, _, residual?, relu) = built.steps[i] else { return XCTFail() }
    broken.replaceStep(i, with: .conv(layer: layer, input: input, output: residual, residual: residual, relu: relu))
    XCTAssertNotEqual(trace(built).reads, trace(broken).reads)
  }

  /// A shortcut still read later is not written over.
  func testALiveShortcutIsKept() {
    let pool = MaxPool(channels: 4, inHeight: 8, inWidth: 8, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    // 1 = conv(0); 2 = conv(1) + 1; then 1 is read again.
    let program = InferenceProgram(
      steps: [.conv(layer: 0, input: 0, output: 1, residual: nil, relu: true),
              .conv(layer: 1, input: 1, output: 2, residual: 1, relu: true),
              .maxPool(input: 1, output: 3, pool: pool),
              .conv(layer: 2, input: 3, output: 4, residual: 2, relu: false)],
      outputSlot: 4, slotSizes: [1, 1, 1, 1, 1])
    let rewritten = program.writingResidualsInPlace { _ in true }
    XCTAssertEqual(rewritten.inPlaceLayers, [2])
    XCTAssertEqual(rewritten.steps[1], program.steps[1])
    XCTAssertEqual(rewritten.outputSlot, 2)
    XCTAssertEqual(trace(program).reads, trace(rewritten).reads)
  }

  /// The engine with residuals written in place computes the same logits,
  /// bit for bit, as the model's program, on the backends that allow it, on
  /// ResNet-18 (basic blocks) and the Keras ResNet-50 (bottlenecks with biases).
  func testTheEngineGivesTheSameLogitsInPlace() throws {
    for (depth, variant) in [(ResNetDepth.resnet18, ResNetVariant.v1_5), (.resnet50, .keras)] {
      let model = try ResNetModel(depth: depth, variant: variant, inputSize: 64, classes: 10)
      let weights = try ResNetWeights.fold(ResNetWeights.seeded(for: model, seed: 2), for: model)
      var rng = SeededGenerator(seed: 3)
      let image = rng.normals(model.batch * model.inputSize * model.inputSize * ResNetModel.inputChannels)
      for backend in [TiledSIMDBackend(), WinogradBackend()] as [any ConvolutionBackend] {
        let assignment = Array(repeating: (backend: backend, config: BackendConfig.default), count: model.layers.count)
        var logits: [[Float]] = []
        for inPlace in [false, true] {
          let engine = try InferenceEngine(model: model, weights: weights, pool: .shared(threads: 2), assignment: assignment,
                                           residualsInPlace: inPlace)
          XCTAssertEqual(engine.program.inPlaceLayers.isEmpty, !inPlace, "\(model.name) \(backend.name)")
          engine.setInput(image)
          engine.run()
          logits.append(engine.logits)
        }
        XCTAssertEqual(logits[0].map(\.bitPattern), logits[1].map(\.bitPattern), "\(model.name) \(backend.name)")
      }
    }
  }
}
