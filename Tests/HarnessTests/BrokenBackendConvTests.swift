import ConvBackends
import ConvCore
import Harness
import Measurement
import TestSupport
import XCTest

/// What `conv --check` runs (`ConvRun`) fails every broken backend and passes the correct one.
final class BrokenBackendConvTests: XCTestCase {
  func testConvCheckFailsEveryBrokenBackend() throws {
    let p = try ConvProblem(descriptor: "mb1ic8ih10iw7oc12kh3kw3sh1sw1ph1pw1")
    let request = ConvRunRequest(problem: p, backends: [NaiveDirectBackend()] + BrokenBackend.allCases.map(\.backend), config: nil,
                                 residual: false, relu: true, check: true, policy: SamplingPolicy(warmup: 0, repetitions: 2),
                                 seed: 1, pool: .shared(threads: 2))
    let result = try ConvRun.execute(request)
    XCTAssertTrue(result.failed)
    XCTAssertEqual(result.rows.count, 1 + BrokenBackend.allCases.count)
    XCTAssertEqual(result.rows[0].check?.passed, true, "naive")
    for row in result.rows.dropFirst() { XCTAssertEqual(row.check?.passed, false, row.backend) }
  }
}
