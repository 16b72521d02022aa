@testable import Harness
import XCTest

final class FormattingTests: XCTestCase {
  func testFixedAndScientific() {
    XCTAssertEqual(fixed(3.14159, 2), "3.14")
    XCTAssertEqual(fixed(-0.5, 1), "-0.5")
    XCTAssertEqual(fixed(2.999, 2), "3.00")
    XCTAssertEqual(fixed(7, 0), "7")
    XCTAssertEqual(scientific(0.000123), "1.2e-04")
    XCTAssertEqual(scientific(0), "0")
    // Rounded before the exponent is fixed: not "10.0e-05".
    XCTAssertEqual(scientific(9.96e-5), "1.0e-04")
    XCTAssertEqual(scientific(9.94e-5), "9.9e-05")
    XCTAssertEqual(scientific(1.0), "1.0e+00")
    XCTAssertEqual(scientific(-2.5e3), "-2.5e+03")
  }

  /// Text left, numbers right, and a note on its own line that does not widen a column.
  func testTableAlignsByColumnKindAndKeepsNotesOutOfColumns() {
    var t = TextTable([.init("backend", .left), .init("config", .left), .init("ms", .right)])
    t.add(["naive", "default", "1.5"])
    t.add(["winograd", "-", ""])
    t.note("unsupported: Winograd F(m×m,3×3) needs a 3×3 kernel with stride 1 (got 1×1, stride 1×1)")
    t.add(["tiled-simd", "mr=6", "12.25"])
    let lines = t.render().split(separator: "\n").map(String.init)
    XCTAssertEqual(lines[0], "backend     config      ms")
    XCTAssertEqual(lines[2], "naive       default    1.5")
    XCTAssertEqual(lines[3], "winograd    -")
    XCTAssertTrue(lines[4].hasPrefix("  unsupported: Winograd"))
    XCTAssertEqual(lines[5], "tiled-simd  mr=6     12.25")
    XCTAssertEqual(t.rowCount, 3)
  }
}
