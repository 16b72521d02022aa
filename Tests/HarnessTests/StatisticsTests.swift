@testable import Harness
import XCTest

final class StatisticsTests: XCTestCase {
  func testSummaryOfKnownData() {
    let s = TimingSummary([5, 1, 4, 2, 3])
    XCTAssertEqual(s.median, 3)
    XCTAssertEqual(s.p10, 1.4, accuracy: 1e-12)  // NumPy: percentile([1..5], 10) = 1.4
    XCTAssertEqual(s.p90, 4.6, accuracy: 1e-12)
    XCTAssertEqual(s.mean, 3)
    XCTAssertEqual(s.min, 1)
    XCTAssertEqual(s.max, 5)
    XCTAssertEqual(s.coefficientOfVariation, (2.5).squareRoot() / 3, accuracy: 1e-12)
    XCTAssertTrue(s.isNoisy)
    XCTAssertEqual(TimingSummary([2, 4]).median, 3)
    XCTAssertEqual(TimingSummary([7]).coefficientOfVariation, 0)
    XCTAssertFalse(TimingSummary([100, 101, 99, 100]).isNoisy)
  }

  func testFormatting() {
    XCTAssertEqual(fixed(3.14159, 2), "3.14")
    XCTAssertEqual(fixed(-0.5, 1), "-0.5")
    XCTAssertEqual(fixed(2.999, 2), "3.00")
    XCTAssertEqual(fixed(7, 0), "7")
    XCTAssertEqual(scientific(0.000123), "1.2e-04")
    XCTAssertEqual(scientific(0), "0")
  }
}
