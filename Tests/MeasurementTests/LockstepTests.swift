import Foundation
import Measurement
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class LockstepTests: XCTestCase {
  /// A driver on this thread grants turns; the sampler on another thread
  /// must run exactly one round per turn (warm-up included) and nothing
  /// between turns, and hand back each turn.
  func testSamplerRunsOneRoundPerTurn() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let prefix = folder.appendingPathComponent("side").path
    XCTAssertThrowsError(try Lockstep(prefix: prefix), "no pipes yet")
    XCTAssertEqual(mkfifo(prefix + ".go", 0o600), 0)
    XCTAssertEqual(mkfifo(prefix + ".done", 0o600), 0)
    let lockstep = try Lockstep(prefix: prefix)

    final class Counter: @unchecked Sendable {
      let lock = NSLock()
      var runs = 0
      func bump() { lock.lock(); runs += 1; lock.unlock() }
      var value: Int { lock.lock(); defer { lock.unlock() }; return runs }
    }
    let counter = Counter()
    let policy = SamplingPolicy(warmup: 1, repetitions: 3, seed: 1, lockstep: lockstep)
    let finished = expectation(description: "sampling finished")
    Thread.detachNewThread {
      _ = Sampler.sample(count: 2, policy: policy, run: { _ in counter.bump() })
      lockstep.beginFinalTurn()
      finished.fulfill()
    }
    // The driver's ends, opened read-write so neither open blocks.
    let go = open(prefix + ".go", O_RDWR), done = open(prefix + ".done", O_RDWR)
    defer { close(go); close(done) }
    var seen: [Int] = []
    for _ in 0..<4 {  // one warm-up round and three timed ones
      usleep(20_000)
      XCTAssertEqual(counter.value, seen.last ?? 0, "a round ran without its turn")
      XCTAssertEqual(write(go, "go\n", 3), 3)
      var byte: UInt8 = 0
      var line = ""
      while read(done, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(Character(UnicodeScalar(byte))) }
      XCTAssertEqual(line, "done")
      seen.append(counter.value)
    }
    XCTAssertEqual(seen, [2, 4, 6, 8], "two candidates per round")
    XCTAssertEqual(write(go, "go\n", 3), 3)  // the final turn, never handed back
    wait(for: [finished], timeout: 10)
  }
}
