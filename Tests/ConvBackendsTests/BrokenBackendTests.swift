import ConvBackends
import ConvCore
import Measurement
import TestSupport
import XCTest

/// The layer check that guards every real backend must reject each broken one.
final class BrokenBackendTests: XCTestCase {
  func testTheLayerCheckRejectsEveryBrokenBackend() throws {
    let p = try ConvProblem(descriptor: "mb1ic16ih9iw9oc24kh3kw3ph1")
    let trial = LayerTrial(problem: p, seed: 3, pool: .shared(threads: 2))
    let tolerance = Tolerance.direct(reductionLength: p.reductionLength)
    // A correct backend run first leaves correct values behind in any shared
    // buffer; the broken ones must not pass on them.
    let good = try trial.check(NaiveDirectBackend().prepare(p, weights: trial.weights, config: .default), tolerance: tolerance)
    XCTAssertTrue(good.passed, good.summary)
    for broken in BrokenBackend.allCases {
      let check = try trial.check(broken.backend.prepare(p, weights: trial.weights, config: .default), tolerance: tolerance)
      XCTAssertFalse(check.passed, "\(broken.rawValue) passed: \(check.summary)")
      if broken == .ignoresResidual { XCTAssertEqual(check.failedEpilogue, .residualAndReLU) }
      if broken != .ignoresResidual { XCTAssertEqual(check.error, .infinity, "\(broken.rawValue): unwritten outputs read back as NaN") }
    }
  }
}
