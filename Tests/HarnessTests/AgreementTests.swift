import ConvBackends
import ConvCore
import Measurement
@testable import Harness
import ResNet
import XCTest

/// A deliberately wrong backend for tests: the naive backend, except that it
/// adds 0.5 to every output of layers with `faultyChannels` input channels.
private struct FaultyBackend: ConvolutionBackend {
  let faultyChannels: Int
  var name: String { "faulty" }
  var availability: Availability { .available }
  func supports(_ problem: ConvProblem) -> Support { .yes }
  func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    var w = weights
    if problem.inChannels == faultyChannels { w.bias = w.bias.map { $0 + 0.5 } }
    return try NaiveDirectBackend().prepare(problem, weights: w, config: config)
  }
}

final class AgreementTests: XCTestCase {
  func testDisagreeingBackendIsNamedWithItsFirstDivergingLayer() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 10)
    let inputs = try NetworkInputs.load(for: model, weightsFile: nil, inputFile: nil, seed: 3)
    let pool = ThreadPool.shared(threads: 2)
    let candidates = try [NaiveDirectBackend() as any ConvolutionBackend, FaultyBackend(faultyChannels: 128)].map {
      try BenchmarkCandidate.backend($0, model: model, weights: inputs.weights, pool: pool)
    }
    let (timings, _) = NetworkBenchmark.measure(candidates, input: inputs.image, policy: SamplingPolicy(warmup: 0, repetitions: 1))
    let agreements = try Agreement.check(candidates, timings: timings, model: model, weights: inputs.weights, input: inputs.image, pool: pool)
    XCTAssertTrue(agreements[0].passed, "naive: \(agreements[0])")
    XCTAssertFalse(agreements[1].passed)
    // layer2.0.conv1 reads 64 channels; the first layer reading 128 is layer2.0.conv2.
    XCTAssertEqual(agreements[1].divergingLayer, "layer2.0.conv2")
  }

  func testTopFiveTiesWithinToleranceAreNotDifferences() {
    var reference = [Float](repeating: 0, count: 10)
    for i in 0..<10 { reference[i] = Float(i) }
    reference[8] = 8.000001
    reference[9] = 8.000002  // classes 9 and 8 tie within tolerance
    var swapped = reference
    swapped.swapAt(8, 9)
    XCTAssertTrue(Agreement.compare(logits: swapped, reference: reference, classes: 10, tolerance: 1e-3).top5Equal)
    var wrong = reference
    wrong[0] = 100
    let a = Agreement.compare(logits: wrong, reference: reference, classes: 10, tolerance: 1e-3)
    XCTAssertFalse(a.top5Equal)
    XCTAssertFalse(a.passed)
  }
}
