@testable import Measurement
import XCTest

final class StatisticsTests: XCTestCase {
  // MARK: - One definition of each statistic

  func testSummaryOfKnownData() {
    let s = TimingSummary([5, 1, 4, 2, 3])
    XCTAssertEqual(s.median, 3)
    XCTAssertEqual(s.p10, 1.4, accuracy: 1e-12)  // NumPy: percentile([1..5], 10) = 1.4
    XCTAssertEqual(s.p90, 4.6, accuracy: 1e-12)
    XCTAssertEqual(s.mean, 3)
    XCTAssertEqual(s.min, 1)
    XCTAssertEqual(s.max, 5)
    XCTAssertEqual(s.standardDeviation, (2.5).squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(s.coefficientOfVariation, (2.5).squareRoot() / 3, accuracy: 1e-12)
    XCTAssertTrue(s.isNoisy)
    XCTAssertEqual(TimingSummary([7]).coefficientOfVariation, 0)
    XCTAssertFalse(TimingSummary([100, 101, 99, 100]).isNoisy)
  }

  /// Odd counts: the middle value; even counts: the mean of the middle two
  /// (not the upper one, not the lower one); ties count as distinct values.
  func testMedianOfOddEvenAndTiedCounts() {
    XCTAssertEqual(TimingSummary([2, 4]).median, 3)
    XCTAssertEqual(TimingSummary([9, 1, 5, 3]).median, 4)  // sorted 1 3 5 9
    XCTAssertEqual(TimingSummary([1, 1, 1, 2]).median, 1)
    XCTAssertEqual(TimingSummary([1, 2, 2, 2, 9]).median, 2)
    XCTAssertEqual(TimingSummary.median([3, 1, 2]), 2)
    // p10 of four values: position 0.3 between the first two.
    XCTAssertEqual(TimingSummary([10, 20, 30, 40]).p10, 13, accuracy: 1e-12)
    XCTAssertEqual(TimingSummary([10, 20, 30, 40]).p90, 37, accuracy: 1e-12)
  }

  // MARK: - Ratio intervals

  /// A pure 10% shift with no noise: the estimate is exactly 1.1 and the
  /// interval collapses onto it (every Walsh average / difference equals it).
  func testPairedEstimateOfAnExactShift() {
    let base: [Double] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    let r = RatioEstimate.paired(base: base, candidate: base.map { $0 * 1.1 })
    XCTAssertEqual(r.ratio, 1.1, accuracy: 1e-12)
    XCTAssertEqual(r.low, 1.1, accuracy: 1e-12)
    XCTAssertEqual(r.high, 1.1, accuracy: 1e-12)
    XCTAssertTrue(r.excludesNoChangeAbove)
  }

  /// Hand-computed: log-ratios d = log(1.02), log(0.99), log(1.05), log(1.01),
  /// log(1.03), log(0.98) (n = 6); the Walsh averages number 21; for 95%,
  /// P(T ≤ 0) = 1/64 ≤ 0.025 < P(T ≤ 1) = 2/64, so k = 1 and the interval is
  /// [smallest, largest] Walsh average = [d_min, d_max] = [0.98, 1.05] and the
  /// estimate the median of the 21 Walsh averages.
  func testPairedIntervalOnKnownSamples() {
    let ratios = [1.02, 0.99, 1.05, 1.01, 1.03, 0.98]
    let r = RatioEstimate.paired(base: Array(repeating: 1, count: 6), candidate: ratios)
    XCTAssertEqual(r.low, 0.98, accuracy: 1e-12)
    XCTAssertEqual(r.high, 1.05, accuracy: 1e-12)
    let d = ratios.map { log($0) }
    var walsh: [Double] = []
    for i in d.indices { for j in i..<d.count { walsh.append((d[i] + d[j]) / 2) } }
    XCTAssertEqual(walsh.count, 21)
    XCTAssertEqual(r.ratio, exp(walsh.sorted()[10]), accuracy: 1e-12)
    XCTAssertFalse(r.excludesNoChangeAbove)
    // Too few pairs to bound anything at 95%: the interval is unbounded.
    XCTAssertFalse(RatioEstimate.paired(base: [1, 1, 1], candidate: [2, 2, 2]).isBounded)
  }

  /// Two samples of 3 and 4 values: 12 differences; the estimate is their median.
  func testUnpairedEstimateIsTheMedianOfPairwiseRatios() {
    let a: [Double] = [1, 2, 4], b: [Double] = [2, 4, 8, 16]
    let r = RatioEstimate.unpaired(base: a, candidate: b)
    var ratios: [Double] = []
    for x in a { for y in b { ratios.append(log(y / x)) } }
    XCTAssertEqual(r.ratio, exp(TimingSummary.median(ratios)), accuracy: 1e-12)
    // n = m = 10 equal samples shifted by exactly 5%: the interval is [1.05, 1.05].
    let base = (0..<10).map { 1 + Double($0) * 0.01 }
    let shifted = RatioEstimate.unpaired(base: base, candidate: base.map { $0 * 1.05 })
    XCTAssertEqual(shifted.ratio, 1.05, accuracy: 1e-9)
    XCTAssertGreaterThan(shifted.high, shifted.low)
    XCTAssertLessThan(shifted.low, 1.05)
  }

  /// The exact critical values against published tables: Wilcoxon signed
  /// rank, n = 10, two-sided 5%: reject when T ≤ 8, so the interval is the
  /// 9th smallest to 9th largest Walsh average; Mann–Whitney, m = n = 10,
  /// two-sided 5%: reject when U ≤ 23, so k = 24 (Hollander, Wolfe & Chicken,
  /// tables A.4 and A.6).
  func testExactCriticalOrdersMatchTables() {
    let w10 = RatioEstimate.signedRankCounts(10)
    XCTAssertEqual(w10.reduce(0, +), 1024)
    XCTAssertEqual(RatioEstimate.criticalOrder(counts: w10, total: 1024, confidence: 0.95), 9)
    let u10 = RatioEstimate.mannWhitneyCounts(10, 10)
    XCTAssertEqual(u10.reduce(0, +), 184_756)  // C(20, 10)
    XCTAssertEqual(RatioEstimate.criticalOrder(counts: u10, total: 184_756, confidence: 0.95), 24)
    // Unequal sizes: C(7, 3) = 35 orderings of 3 and 4 values, U symmetric about 6.
    let u34 = RatioEstimate.mannWhitneyCounts(3, 4)
    XCTAssertEqual(u34.reduce(0, +), 35)
    XCTAssertEqual(u34, u34.reversed())
    // Where the gate works: 16 pairs at 1 − 0.05/110 per series. The subset
    // sums of {1…16} up to 6 number 14 of 65,536 (≤ 0.000227), up to 7: 19.
    XCTAssertEqual(RatioEstimate.criticalOrder(counts: RatioEstimate.signedRankCounts(16), total: 65_536,
                                               confidence: 1 - 0.05 / 110), 7)
    // Five pairs cannot reach 95% (the extremes alone: 2/32 > 0.05).
    XCTAssertEqual(RatioEstimate.criticalOrder(counts: RatioEstimate.signedRankCounts(5), total: 32, confidence: 0.95), 0)
  }

  /// 16 noisy pairs 10% apart at the gate's per-series confidence: bounded,
  /// and the slowdown established (the normal approximation left this
  /// interval unbounded, so the gate could never say anything).
  func testHighConfidenceIntervalOnFewPairsIsBounded() {
    let s = samples(rounds: 16, factor: 1.10, noise: 0.01, seed: 7)
    let r = RatioEstimate.paired(base: s.base, candidate: s.candidate, confidence: 1 - 0.05 / 110)
    XCTAssertTrue(r.isBounded)
    XCTAssertEqual(Verdict(r, threshold: 0.05), .regression)
    let u = RatioEstimate.unpaired(base: s.base, candidate: s.candidate, confidence: 1 - 0.05 / 110)
    XCTAssertTrue(u.isBounded)
  }

  /// Selecting by counting gives exactly what sorting the listed set gives,
  /// ties and negative values included: every order statistic, and the median.
  func testPairwiseOrderStatisticsMatchTheListedSets() {
    var rng = ConvCoreRandom(seed: 11)
    for (m, n) in [(1, 1), (3, 4), (7, 7), (20, 13)] {
      // Values on a coarse grid, so ties occur.
      let x = (0..<m).map { _ in (rng.normal() * 4).rounded() / 8 }, y = (0..<n).map { _ in (rng.normal() * 4).rounded() / 8 - 0.1 }
      var listed: [Double] = []
      for a in x { for b in y { listed.append(b - a) } }
      listed.sort()
      let set = PairwiseOrderStatistics(differencesOf: y, minus: x)
      XCTAssertEqual(set.count, listed.count)
      for k in 1...listed.count { XCTAssertEqual(set.kth(k), listed[k - 1], "differences \(m)×\(n), k = \(k)") }
      XCTAssertEqual(set.median, TimingSummary.quantile(listed, 0.5))
      var walsh: [Double] = []
      for i in x.indices { for j in i..<x.count { walsh.append((x[i] + x[j]) / 2) } }
      walsh.sort()
      let averages = PairwiseOrderStatistics(walshAveragesOf: x)
      XCTAssertEqual(averages.count, walsh.count)
      for k in 1...walsh.count { XCTAssertEqual(averages.kth(k), walsh[k - 1], "Walsh averages of \(m), k = \(k)") }
      XCTAssertEqual(averages.median, TimingSummary.quantile(walsh, 0.5))
    }
  }

  /// 100,000 repetitions a side (what `--repetitions 100000` writes): 10¹⁰
  /// differences, which cannot be listed, selected instead; the estimate of
  /// a pure 3% shift comes back.
  func testUnpairedEstimateOfVeryLargeSamples() {
    let base = (0..<100_000).map { 1 + 0.1 * Double(($0 * 7919) % 1000) / 1000 }
    let r = RatioEstimate.unpaired(base: base, candidate: base.map { $0 * 1.03 })
    XCTAssertEqual(r.ratio, 1.03, accuracy: 1e-3)
    XCTAssertTrue(r.isBounded)
    XCTAssertLessThan(r.high - r.low, 0.01)
  }

  func testNormalQuantile() {
    XCTAssertEqual(RatioEstimate.normalQuantile(twoSided: 0.95), 1.959964, accuracy: 1e-5)
    XCTAssertEqual(RatioEstimate.normalQuantile(twoSided: 0.99), 2.575829, accuracy: 1e-5)
    XCTAssertEqual(RatioEstimate.normalQuantile(twoSided: 0.999), 3.290527, accuracy: 1e-5)
  }

  // MARK: - The gate's verdicts on synthetic sample sets

  /// Seeded samples: `rounds` pairs, base ≈ 10 ms with relative noise `noise`, the candidate `factor` × slower.
  private func samples(rounds: Int, factor: Double, noise: Double, seed: UInt64) -> (base: [Double], candidate: [Double]) {
    var rng = ConvCoreRandom(seed: seed)
    let base = (0..<rounds).map { _ in 10 * (1 + noise * rng.normal()) }
    let candidate = (0..<rounds).map { _ in 10 * factor * (1 + noise * rng.normal()) }
    return (base, candidate)
  }

  func testVerdictsOnSyntheticSamples() {
    let threshold = 0.05
    var identical = 0, caught = 0, buried = 0, buriedCalledUnchanged = 0, faster = 0
    for seed in UInt64(1)...20 {
      let same = samples(rounds: 10, factor: 1.0, noise: 0.01, seed: seed)
      if Verdict(.paired(base: same.base, candidate: same.candidate), threshold: threshold) == .unchanged { identical += 1 }
      let slow = samples(rounds: 10, factor: 1.10, noise: 0.01, seed: seed + 100)
      if Verdict(.paired(base: slow.base, candidate: slow.candidate), threshold: threshold) == .regression { caught += 1 }
      let noisy = samples(rounds: 10, factor: 1.10, noise: 0.25, seed: seed + 200)
      switch Verdict(.paired(base: noisy.base, candidate: noisy.candidate), threshold: threshold) {
      case .inconclusive: buried += 1
      case .unchanged: buriedCalledUnchanged += 1
      default: break
      }
      let quick = samples(rounds: 10, factor: 0.85, noise: 0.01, seed: seed + 300)
      let v = Verdict(.paired(base: quick.base, candidate: quick.candidate), threshold: threshold)
      if v == .faster { faster += 1 }
      XCTAssertNotEqual(v, .regression)
    }
    XCTAssertEqual(identical, 20, "identical samples must give no change")
    XCTAssertEqual(caught, 20, "10% slower with 1% noise must be a regression")
    XCTAssertEqual(buriedCalledUnchanged, 0, "a slowdown buried in noise must never be called unchanged")
    XCTAssertGreaterThanOrEqual(buried, 15, "10% slower in 25% noise is mostly inconclusive")
    XCTAssertEqual(faster, 20)
  }

  func testVerdictRules() {
    func r(_ ratio: Double, _ low: Double, _ high: Double) -> RatioEstimate {
      RatioEstimate(ratio: ratio, low: low, high: high, confidence: 0.95, pairs: 10, paired: true)
    }
    XCTAssertEqual(Verdict(r(1.10, 1.07, 1.13), threshold: 0.05), .regression)
    XCTAssertEqual(Verdict(r(1.10, 0.95, 1.30), threshold: 0.05), .inconclusive, "slower beyond the threshold, but not established")
    XCTAssertEqual(Verdict(r(1.03, 1.01, 1.06), threshold: 0.05), .inconclusive, "established, but could exceed the threshold")
    XCTAssertEqual(Verdict(r(1.02, 0.99, 1.04), threshold: 0.05), .unchanged)
    XCTAssertEqual(Verdict(r(0.80, 0.78, 0.83), threshold: 0.05), .faster)
    XCTAssertEqual(Verdict(r(1.10, 0, .infinity), threshold: 0.05), .inconclusive)
  }

  // MARK: - The sampler

  /// `prepare` (e.g. evicting the weights) runs right before each timed
  /// run, after that candidate's `warmEach` untimed runs, and never before a
  /// warm-up run: the log of every round is, per candidate in the recorded
  /// order, warmEach runs, the prepare, the timed run.
  func testSamplerPreparesAndRewarmsRightBeforeEachTimedRun() {
    enum Event: Equatable { case run(Int), prepare(Int) }
    var log: [Event] = []
    var policy = SamplingPolicy(warmup: 1, repetitions: 4, seed: 7)
    policy.warmEach = 2
    let record = Sampler.sample(count: 3, policy: policy, prepare: { log.append(.prepare($0)) }, run: { log.append(.run($0)) })
    XCTAssertEqual(Array(log.prefix(3)), [.run(0), .run(1), .run(2)], "warm-up rounds: no prepare, no extra runs")
    let expected = record.rounds.flatMap { $0 }.flatMap { i in [Event.run(i), .run(i), .prepare(i), .run(i)] }
    XCTAssertEqual(Array(log.dropFirst(3)), expected)
    XCTAssertEqual(record.samples.map(\.count), [4, 4, 4], "only the timed runs are samples")
  }

  func testSamplerInterleavesShufflesAndRecordsTheOrder() {
    var log: [Int] = []
    let policy = SamplingPolicy(warmup: 1, repetitions: 6, seed: 42)
    let record = Sampler.sample(count: 3, policy: policy, caps: [nil, 2, nil], run: { log.append($0) })
    XCTAssertEqual(record.samples.map(\.count), [6, 2, 6], "candidate 1 is capped at 2 rounds")
    XCTAssertEqual(record.rounds.count, 6)
    XCTAssertEqual(Array(log.prefix(3)), [0, 1, 2], "warm-up first, in order")
    XCTAssertEqual(Array(log.dropFirst(3)), record.rounds.flatMap { $0 }, "the recorded order is the order run")
    XCTAssertTrue(record.rounds.allSatisfy { Set($0).count == $0.count }, "each candidate once per round")
    XCTAssertGreaterThan(Set(record.rounds.map { $0.filter { $0 != 1 } }).count, 1, "the order is shuffled")
    var again: [Int] = []
    let repeated = Sampler.sample(count: 3, policy: policy, caps: [nil, 2, nil], run: { again.append($0) })
    XCTAssertEqual(repeated.rounds, record.rounds, "the same seed gives the same order")
  }
}

/// The project's seeded generator, for the synthetic samples.
private struct ConvCoreRandom {
  var rng: SeededGenerator
  init(seed: UInt64) { rng = SeededGenerator(seed: seed) }
  mutating func normal() -> Double { rng.normal() }
}

import ConvCore
import Foundation
