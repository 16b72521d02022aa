import ConvBackends
import ConvCore
import ResNet
import TestSupport
@testable import Tuning
import XCTest

/// `tune` with the broken backends beside a correct one: every broken
/// candidate is rejected on every shape, though each is as fast as or faster
/// than the correct one, and the plan chooses only correct backends.
final class BrokenBackendTuningTests: XCTestCase {
  func testTuneRejectsEveryBrokenBackend() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    var options = TuningOptions(backends: [NaiveDirectBackend()] + BrokenBackend.allCases.map(\.backend))
    // Budget enough that no candidate is skipped on a slow (sanitizer) build:
    // the rounds are fixed by `repetitions` and the tuner's minimum anyway.
    options.budgetSeconds = 600
    options.repetitions = 3
    options.refineInNetwork = false
    let plan = Tuner(model: model, options: options, pool: .shared(threads: 2)).tune(fingerprint: .current(threads: 2))
    for shape in plan.shapes {
      XCTAssertEqual(shape.backend, "naive", shape.descriptor)
      for broken in BrokenBackend.allCases {
        let c = try XCTUnwrap(shape.candidates.first { $0.backend == broken.rawValue }, "\(broken.rawValue) on \(shape.descriptor)")
        XCTAssertEqual(c.status, .rejected, "\(broken.rawValue) on \(shape.descriptor): \(c.reason ?? "")")
      }
    }
  }
}
