import ConvCore
import XCTest

final class HugePageArenaTests: XCTestCase {
  func testLargeAllocationsAreAlignedDistinctAndReturned() throws {
    let a = try XCTUnwrap(HugePageArena.allocate(bytes: 100_000))
    let b = try XCTUnwrap(HugePageArena.allocate(bytes: 100_001))
    XCTAssertEqual(Int(bitPattern: a) % AlignedBuffer.alignment, 0)
    XCTAssertEqual(Int(bitPattern: b) % AlignedBuffer.alignment, 0)
    // The two blocks do not overlap, whichever comes first.
    XCTAssertTrue(b >= a + 100_000 || a >= b + 100_001)
    a.storeBytes(of: 1, as: UInt8.self)
    (b + 100_000).storeBytes(of: 2, as: UInt8.self)
    XCTAssertTrue(HugePageArena.free(a))
    XCTAssertTrue(HugePageArena.free(b))
  }

  func testOversizedAllocationGetsItsOwnHugePageAlignedChunkAndIsUnmappedWhenFreed() throws {
    let bytes = 40 << 20
    let p = try XCTUnwrap(HugePageArena.allocate(bytes: bytes))
    XCTAssertEqual(Int(bitPattern: p) % HugePageArena.hugePageBytes, 0)
    let mapped = HugePageArena.mappedBytes
    XCTAssertGreaterThanOrEqual(mapped, bytes)
    memset(p, 7, bytes)
    XCTAssertTrue(HugePageArena.free(p))
    // Its chunk held nothing else, so it is gone (tests in this process run one at a time).
    XCTAssertEqual(HugePageArena.mappedBytes, mapped - bytes)
  }

  func testAnOversizedAllocationAfterTheCurrentChunkEmptiedLeavesLaterAllocationsUsable() throws {
    // The current chunk empties, then an allocation too big for any chunk
    // comes: the small one after it must still get mapped memory.
    let small = try XCTUnwrap(HugePageArena.allocate(bytes: 100_000))
    XCTAssertTrue(HugePageArena.free(small))
    let big = try XCTUnwrap(HugePageArena.allocate(bytes: 40 << 20))
    let next = try XCTUnwrap(HugePageArena.allocate(bytes: 100_000))
    memset(next, 5, 100_000)
    XCTAssertEqual(next.load(fromByteOffset: 99_999, as: UInt8.self), 5)
    XCTAssertTrue(HugePageArena.free(big))
    XCTAssertTrue(HugePageArena.free(next))
  }

  func testMemoryTheArenaDidNotGiveIsNotClaimed() {
    let p = malloc(256)!
    XCTAssertFalse(HugePageArena.free(p))
    free(p)
  }

  func testAlignedBuffersOnEitherSideOfTheThresholdAreZeroedAndWritable() {
    for count in [HugePageArena.thresholdBytes / 4 - 1, HugePageArena.thresholdBytes / 4, 1 << 20] {
      let buffer = AlignedBuffer(count: count)
      XCTAssertEqual(Int(bitPattern: buffer.pointer) % AlignedBuffer.alignment, 0)
      XCTAssertTrue(buffer.buffer.allSatisfy { $0 == 0 }, "\(count) floats not zeroed")
      buffer.fill(3)
      XCTAssertEqual(buffer.pointer[count - 1], 3)
    }
  }
}
