import Foundation
import ConvCore
import Synchronization
import XCTest

final class ReferenceConvolutionTests: XCTestCase {
  /// A 3×3 input, one channel, a 2×2 kernel, padding 1, stride 2, worked by hand.
  func testHandComputedCase() throws {
    let p = ConvProblem(inChannels: 1, inHeight: 3, outChannels: 1, kernelHeight: 2, strideHeight: 2, padHeight: 1)
    XCTAssertEqual(p.outHeight, 2)
    // input      kernel
    // 1 2 3      1 2
    // 4 5 6      3 4
    // 7 8 9
    let weights = ConvWeights(weights: [1, 2, 3, 4], bias: [0.5])
    let prepared = try ReferenceBackend().prepare(p, weights: weights, config: .default)
    let out = prepared.runOnce([1, 2, 3, 4, 5, 6, 7, 8, 9])
    // (0,0): window rows -1..0, cols -1..0 → only input(0,0)=1 under kernel(1,1)=4 → 4
    // (0,1): rows -1..0, cols 1..2 → 2·3 + 3·4 = 18
    // (1,0): rows 1..2, cols -1..0 → 4·2 + 7·4 = 36
    // (1,1): rows 1..2, cols 1..2 → 5·1 + 6·2 + 8·3 + 9·4 = 77
    XCTAssertEqual(out, [4.5, 18.5, 36.5, 77.5])
    XCTAssertEqual(prepared.runOnce([1, 2, 3, 4, 5, 6, 7, 8, 9], residual: [-10, 0, 0, -100], relu: true), [0, 18.5, 36.5, 0])
  }

  /// Two input and two output channels, NHWC, to pin down the layouts (OIHW weights).
  func testChannelLayouts() throws {
    let p = ConvProblem(inChannels: 2, inHeight: 1, inWidth: 2, outChannels: 2, kernelHeight: 1)
    // w[o][c]: o0 = (1, 10), o1 = (100, 1000)
    let prepared = try ReferenceBackend().prepare(p, weights: ConvWeights(weights: [1, 10, 100, 1000], bias: [0, 0]), config: .default)
    // pixel0 = (1, 2), pixel1 = (3, 4)
    XCTAssertEqual(prepared.runOnce([1, 2, 3, 4]), [21, 2100, 43, 4300])
  }

  func testErrorMetricUsesFloor() {
    XCTAssertEqual(ErrorMetric.maxError([1, 2], reference: [1, 2]), 0)
    XCTAssertEqual(ErrorMetric.maxError([1.1, 2], reference: [1, 2]), 0.1, accuracy: 1e-6)
    // An element whose reference is 0 is measured against 1% of the largest magnitude.
    XCTAssertEqual(ErrorMetric.maxError([0.001, 10], reference: [0, 10]), 0.01, accuracy: 1e-6)
    XCTAssertEqual(ErrorMetric.maxError([.nan, 1], reference: [1, 1]), .infinity)
  }

  func testDirectToleranceGrowsWithReduction() {
    XCTAssertLessThan(Tolerance.direct(reductionLength: 27), Tolerance.direct(reductionLength: 4608))
    XCTAssertLessThan(Tolerance.direct(reductionLength: 4608), Tolerance.winograd)
  }

  func testBackendConfigRoundTrip() throws {
    let c = BackendConfig(["rows": 512, "mr": 8])
    XCTAssertEqual(c.description, "mr=8,rows=512")
    XCTAssertEqual(BackendConfig(parsing: c.description), c)
    XCTAssertEqual(BackendConfig(parsing: "default"), .default)
    XCTAssertNil(BackendConfig(parsing: "rows"))
    XCTAssertNil(BackendConfig(parsing: "rows=x"))
    XCTAssertNil(BackendConfig(parsing: "a=1,a=2"))
    let data = try JSONEncoder().encode([c])
    XCTAssertEqual(try JSONDecoder().decode([BackendConfig].self, from: data), [c])
  }

  func testThreadPoolRunsEveryIndexOnceAndNests() {
    let pool = ThreadPool.shared(threads: 2)
    var hits = [Int](repeating: 0, count: 1000)
    hits.withUnsafeMutableBufferPointer { buf in
      pool.parallelFor(1000) { i in buf[i] += 1 }
    }
    XCTAssertEqual(hits, [Int](repeating: 1, count: 1000))
    var nested = [Int](repeating: 0, count: 64)
    nested.withUnsafeMutableBufferPointer { buf in
      pool.parallelFor(8) { i in pool.parallelFor(8) { j in buf[i * 8 + j] += 1 } }
    }
    XCTAssertEqual(nested, [Int](repeating: 1, count: 64))
    var covered = [Int](repeating: 0, count: 103)
    covered.withUnsafeMutableBufferPointer { buf in
      pool.parallelRanges(103, grain: 10, Increment(values: buf.baseAddress!))
    }
    XCTAssertEqual(covered, [Int](repeating: 1, count: 103))
    // A task of an empty type (no stored properties) reaches the workers too.
    EmptyCountingTask.runs.store(0, ordering: .relaxed)
    for _ in 0..<1000 { pool.parallelFor(2, EmptyCountingTask()) }
    XCTAssertEqual(EmptyCountingTask.runs.load(ordering: .relaxed), 2000)
  }

  /// The caller claims from the front and the worker from the back, so
  /// whatever their speeds, the caller's indices are a prefix of the loop and
  /// the worker's the rest (each thread keeps its part of the image). A
  /// caller preempted right after waking the worker can find every index
  /// taken (an empty prefix, which is allowed), so the loop is repeated until
  /// both threads have taken part in one, at most 20 times.
  func testThreadPoolCallerRunsAPrefixAndTheWorkerTheRest() {
    let pool = ThreadPool.shared(threads: 2)
    let count = 1000
    let caller = pthread_self()
    var bothTookPart = false
    for _ in 0..<20 where !bothTookPart {
      let workerJoined = Atomic<Bool>(false)
      var byCaller = [Bool](repeating: false, count: count)
      var runs = [Int](repeating: 0, count: count)
      runs.withUnsafeMutableBufferPointer { r in
        byCaller.withUnsafeMutableBufferPointer { c in
          pool.parallelFor(count) { i in
            r[i] += 1
            c[i] = pthread_equal(pthread_self(), caller) != 0
            if !c[i] { workerJoined.store(true, ordering: .relaxed) }
            // The caller's first task waits (up to 10 s) until the worker has
            // run one, so both take part however slowly the worker wakes.
            if i == 0 && c[i] {
              let start = MonotonicClock.now()
              while !workerJoined.load(ordering: .relaxed) && MonotonicClock.now() - start < 10 {}
            }
          }
        }
      }
      XCTAssertEqual(runs, [Int](repeating: 1, count: count))
      let firstWorker = byCaller.firstIndex(of: false) ?? count
      XCTAssertFalse(byCaller[firstWorker...].contains(true), "the caller ran an index after the worker's first")
      bothTookPart = firstWorker > 0 && firstWorker < count
    }
    XCTAssertTrue(bothTookPart, "in 20 loops the caller and the worker never both took part")
  }

  /// Busy time counts each task of a top-level loop once: a loop nested in a
  /// task is part of that task's time, and nothing is counted while off.
  func testThreadPoolBusyTimeCountsTopLevelTasksOnce() {
    let pool = ThreadPool.shared(threads: 2)
    func spin(_ seconds: Double) {
      let start = MonotonicClock.now()
      while MonotonicClock.now() - start < seconds {}
    }
    let before = pool.busySeconds
    pool.parallelFor(4) { _ in spin(1e-3) }
    XCTAssertEqual(pool.busySeconds, before, "counted while off")
    pool.accountsBusyTime = true
    defer { pool.accountsBusyTime = false }
    // One task whose nested loop runs serially inside it: busy is at most the
    // loop's wall time; counting the nested tasks as well would double it.
    var start = pool.busySeconds
    var wall = MonotonicClock.now()
    pool.parallelFor(1) { _ in pool.parallelFor(4) { _ in spin(1e-3) } }
    wall = MonotonicClock.now() - wall
    var busy = pool.busySeconds - start
    XCTAssertGreaterThanOrEqual(busy, 4e-3)
    XCTAssertLessThanOrEqual(busy, wall)
    // Two tasks with nested loops: at most both threads for the whole loop.
    start = pool.busySeconds
    wall = MonotonicClock.now()
    pool.parallelFor(2) { _ in pool.parallelFor(4) { _ in spin(1e-3) } }
    wall = MonotonicClock.now() - wall
    busy = pool.busySeconds - start
    XCTAssertGreaterThanOrEqual(busy, 8e-3)
    XCTAssertLessThanOrEqual(busy, 2 * wall)
  }

  func testTwoEndedClaimsHandOutEveryIndexOnceFromEitherEnd() {
    let claims = TwoEndedClaims()
    claims.reset(count: 5)
    XCTAssertEqual(claims.claim(fromBack: false), 0)
    XCTAssertEqual(claims.claim(fromBack: true), 4)
    XCTAssertEqual(claims.claim(fromBack: true), 3)
    XCTAssertEqual(claims.claim(fromBack: false), 1)
    XCTAssertEqual(claims.claim(fromBack: false), 2)
    XCTAssertNil(claims.claim(fromBack: true))
    XCTAssertNil(claims.claim(fromBack: false))
    claims.reset(count: 0)
    XCTAssertNil(claims.claim(fromBack: false))
    // Two threads at once: every index exactly once, the front's a prefix.
    let shared = SharedClaims()
    let pool = ThreadPool.shared(threads: 2)
    let count = 20000
    var owner = [Int](repeating: -1, count: count)
    shared.claims.reset(count: count)
    owner.withUnsafeMutableBufferPointer { o in
      pool.parallelFor(2) { slot in
        while let i = shared.claims.claim(fromBack: slot > 0) {
          o[i] = o[i] == -1 ? slot : 2  // 2: claimed twice
        }
      }
    }
    XCTAssertFalse(owner.contains(-1))
    XCTAssertFalse(owner.contains(2), "an index was claimed twice")
    let firstBack = owner.firstIndex(of: 1) ?? count
    XCTAssertFalse(owner[firstBack...].contains(0))
  }
}

/// Claims shared by the threads of a loop.
private final class SharedClaims: Sendable {
  let claims = TwoEndedClaims()
}

/// A task with no stored properties: its value has no address of its own.
private struct EmptyCountingTask: ParallelTask {
  static let runs = Atomic<Int>(0)
  func run(_ index: Int) { Self.runs.add(1, ordering: .relaxed) }
}

/// Adds one to every element of a range: for the parallelRanges check.
private struct Increment: RangeTask {
  let values: UnsafeMutablePointer<Int>
  func run(_ range: Range<Int>) { for i in range { values[i] += 1 } }
}
