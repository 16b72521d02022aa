import Foundation

/// How much slower (ratio > 1) or faster (< 1) one candidate is than another,
/// with a confidence interval: the Hodges–Lehmann estimate of the shift
/// between the two candidates' log-times, and the distribution-free interval
/// that inverts the rank test behind it.
///
/// Why Hodges–Lehmann and not a bootstrap: the verdict must be a function of
/// the samples alone — re-reading the same samples must give the same answer
/// (a resampling interval would move with its seed); with the 5–20 samples a
/// benchmark affords, the bootstrap distribution of a median is lumpy and its
/// percentile interval erratic; and a shared machine produces outliers, which
/// the rank-based estimate ignores. It is also the interval of the Wilcoxon /
/// Mann–Whitney tests Google Benchmark's compare.py runs on repetitions, so
/// "the interval excludes 1" and "the U test rejects no change" agree.
/// Working on log-times makes a slowdown multiplicative (a ratio), which is
/// what a machine that runs everything 20% slower for a while does.
///
/// References: Hodges & Lehmann 1963, "Estimates of location based on rank
/// tests"; Hollander, Wolfe & Chicken, "Nonparametric Statistical Methods",
/// §3.2–3.3 (one-sample / paired) and §4.3 (two-sample). The order
/// statistics that bound the interval come from the tests' exact null
/// distributions (computed by counting), or their normal approximations
/// for large samples.
/// Under a pure multiplicative shift the estimate is the ratio of the medians.
public struct RatioEstimate: Sendable, Equatable, Codable {
  /// candidate ÷ base.
  public var ratio: Double
  /// The interval's bounds; 0 and +∞ when the samples are too few to bound it.
  public var low: Double
  public var high: Double
  /// The confidence level of [low, high].
  public var confidence: Double
  /// Pairs (paired) or samples per side (unpaired) behind the estimate.
  public var pairs: Int
  public var paired: Bool

  /// Both bounds finite and positive.
  public var isBounded: Bool { low > 0 && high.isFinite }
  /// The interval lies wholly above 1: the candidate is slower.
  public var excludesNoChangeAbove: Bool { low > 1 }
  /// The interval lies wholly below 1: the candidate is faster.
  public var excludesNoChangeBelow: Bool { high < 1 }

  /// The two-sided standard-normal quantile for `confidence` (Acklam's rational
  /// approximation of the inverse normal CDF, relative error below 1.2e-9).
  static func normalQuantile(twoSided confidence: Double) -> Double {
    let p = 1 - (1 - confidence) / 2
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    if p > 1 - low {
      let q = (-2 * Foundation.log(1 - p)).squareRoot()
      return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
        / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
      / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  }

  /// The largest `k` such that the rank statistic `T` (the number of
  /// candidate statistics below the true shift) satisfies
  /// 2·P(T ≤ k − 1) ≤ 1 − confidence; the interval is then the `k`-th
  /// smallest to the `k`-th largest statistic. 0 when even the extremes do
  /// not reach the confidence. `counts[t]` is how many of the `total`
  /// equally likely outcomes under no change give T = t.
  static func criticalOrder(counts: [Double], total: Double, confidence: Double) -> Int {
    let alphaHalf = (1 - confidence) / 2
    var cumulative = 0.0
    var k = 0
    for c in counts {
      cumulative += c
      if cumulative / total > alphaHalf { break }
      k += 1
    }
    return k
  }

  /// Exact null distribution of the Wilcoxon signed-rank statistic for `n`
  /// pairs: the number of subsets of {1, …, n} with each sum (2ⁿ outcomes).
  static func signedRankCounts(_ n: Int) -> [Double] {
    var counts = [Double](repeating: 0, count: n * (n + 1) / 2 + 1)
    counts[0] = 1
    var top = 0
    for rank in stride(from: 1, through: n, by: 1) {
      top += rank
      for sum in stride(from: top, through: rank, by: -1) { counts[sum] += counts[sum - rank] }
    }
    return counts
  }

  /// Exact null distribution of the Mann–Whitney statistic for samples of
  /// `m` and `n`: how many of the C(m+n, m) orderings give each U, by the
  /// recursion f(m, n; u) = f(m − 1, n; u − n) + f(m, n − 1; u).
  static func mannWhitneyCounts(_ m: Int, _ n: Int) -> [Double] {
    // row[j] is the distribution for i base and j candidate values; rows
    // advance in i. The largest of all values is either a base value (it
    // exceeds all j candidates: U grows by j) or a candidate (U unchanged).
    var row = [[Double]](repeating: [1], count: n + 1)
    for i in stride(from: 1, through: m, by: 1) {
      var next = row
      for j in stride(from: 1, through: n, by: 1) {
        var counts = [Double](repeating: 0, count: i * j + 1)
        for (u, c) in row[j].enumerated() { counts[u + j] += c }
        for (u, c) in next[j - 1].enumerated() { counts[u] += c }
        next[j] = counts
      }
      row = next
    }
    return row[n]
  }

  /// Below these sizes the order statistics come from the exact null
  /// distributions; above, from the normal approximation (whose error is
  /// then far below the rounding of `k`). Exact matters most where the
  /// gate works: few rounds at a high per-series confidence, where the
  /// normal tail is too light and leaves the interval unbounded although the
  /// extremes already reach the confidence (16 pairs at 99.95%: exact k = 7).
  static let exactPairsLimit = 200
  static let exactProductLimit = 2_500

  /// The estimate and interval from candidate statistics `values` (pairwise
  /// differences or Walsh averages of log-times), bounded by the `k`-th
  /// smallest and largest.
  private static func fromOrderStatistics(_ values: [Double], k: Int, confidence: Double,
                                          pairs: Int, paired: Bool) -> RatioEstimate {
    let sorted = values.sorted()
    return bounded(median: TimingSummary.quantile(sorted, 0.5), count: sorted.count, kth: { sorted[$0 - 1] },
                   k: k, confidence: confidence, pairs: pairs, paired: paired)
  }

  /// Above this many pairwise statistics (8 MB of them) they are not listed
  /// but selected by counting (`PairwiseOrderStatistics`).
  static let listedLimit = 1_000_000

  /// The same from a set too large to list.
  private static func fromOrderStatistics(_ set: PairwiseOrderStatistics, k: Int, confidence: Double,
                                          pairs: Int, paired: Bool) -> RatioEstimate {
    bounded(median: set.median, count: set.count, kth: set.kth, k: k, confidence: confidence, pairs: pairs, paired: paired)
  }

  /// The estimate from the median of `count` log-ratio statistics, bounded by
  /// the `k`-th smallest and largest (`kth`, 1-based); unbounded when `k` is
  /// out of range.
  private static func bounded(median: Double, count: Int, kth: (Int) -> Double, k: Int, confidence: Double,
                              pairs: Int, paired: Bool) -> RatioEstimate {
    guard k >= 1, k <= count else {
      return RatioEstimate(ratio: exp(median), low: 0, high: .infinity, confidence: confidence, pairs: pairs, paired: paired)
    }
    return RatioEstimate(ratio: exp(median), low: exp(kth(k)), high: exp(kth(count + 1 - k)),
                         confidence: confidence, pairs: pairs, paired: paired)
  }

  /// `k` from the normal approximation `centre − z·spread`, rounded down.
  private static func normalOrder(centre: Double, spread: Double, confidence: Double) -> Int {
    Int((centre - normalQuantile(twoSided: confidence) * spread).rounded(.down))
  }

  /// Paired samples (round `i` of both candidates measured back to back):
  /// the Hodges–Lehmann estimate of the median log-ratio (the median of the
  /// Walsh averages of dᵢ = log(candidateᵢ / baseᵢ)) and the Wilcoxon
  /// signed-rank interval. Pairing cancels what drifts between rounds.
  public static func paired(base: [Double], candidate: [Double], confidence: Double = 0.95) -> RatioEstimate {
    let n = min(base.count, candidate.count)
    let d = (0..<n).compactMap { i -> Double? in
      base[i] > 0 && candidate[i] > 0 ? Foundation.log(candidate[i] / base[i]) : nil
    }
    guard !d.isEmpty else { return RatioEstimate(ratio: .nan, low: 0, high: .infinity, confidence: confidence, pairs: 0, paired: true) }
    let m = Double(d.count)
    let k = d.count <= exactPairsLimit
      ? criticalOrder(counts: signedRankCounts(d.count), total: pow(2, m), confidence: confidence)
      : normalOrder(centre: m * (m + 1) / 4, spread: (m * (m + 1) * (2 * m + 1) / 24).squareRoot(), confidence: confidence)
    if d.count * (d.count + 1) / 2 > listedLimit {
      return fromOrderStatistics(PairwiseOrderStatistics(walshAveragesOf: d), k: k, confidence: confidence, pairs: d.count, paired: true)
    }
    var walsh: [Double] = []
    walsh.reserveCapacity(d.count * (d.count + 1) / 2)
    for i in d.indices { for j in i..<d.count { walsh.append((d[i] + d[j]) / 2) } }
    return fromOrderStatistics(walsh, k: k, confidence: confidence, pairs: d.count, paired: true)
  }

  /// Independent samples: the Hodges–Lehmann estimate of the shift between
  /// log-times (the median of all log(candidateⱼ) − log(baseᵢ)) and the
  /// Mann–Whitney interval.
  public static func unpaired(base: [Double], candidate: [Double], confidence: Double = 0.95) -> RatioEstimate {
    let a = base.filter { $0 > 0 }.map { Foundation.log($0) }, b = candidate.filter { $0 > 0 }.map { Foundation.log($0) }
    guard !a.isEmpty, !b.isEmpty else {
      return RatioEstimate(ratio: .nan, low: 0, high: .infinity, confidence: confidence, pairs: 0, paired: false)
    }
    let (m, n) = (Double(a.count), Double(b.count))
    let k: Int
    if a.count * b.count <= exactProductLimit {
      let counts = mannWhitneyCounts(a.count, b.count)
      k = criticalOrder(counts: counts, total: counts.reduce(0, +), confidence: confidence)
    } else {
      k = normalOrder(centre: m * n / 2, spread: (m * n * (m + n + 1) / 12).squareRoot(), confidence: confidence)
    }
    if a.count * b.count > listedLimit {
      return fromOrderStatistics(PairwiseOrderStatistics(differencesOf: b, minus: a), k: k, confidence: confidence,
                                 pairs: min(a.count, b.count), paired: false)
    }
    var differences: [Double] = []
    differences.reserveCapacity(a.count * b.count)
    for x in a { for y in b { differences.append(y - x) } }
    return fromOrderStatistics(differences, k: k, confidence: confidence, pairs: min(a.count, b.count), paired: false)
  }
}

/// What a comparison of two candidates concludes at a threshold (e.g. 5%).
public enum Verdict: String, Sendable, Codable {
  /// Slower by more than the threshold, and the interval excludes no change.
  case regression
  /// The interval reaches past the threshold but the slowdown is not established: the noise is too large to tell.
  case inconclusive
  /// No slowdown beyond the threshold: the whole interval lies below it.
  case unchanged
  /// Faster by more than the threshold, and the interval excludes no change.
  case faster

  /// - Parameter threshold: a fraction (0.05 for 5%).
  public init(_ r: RatioEstimate, threshold: Double) {
    if r.ratio > 1 + threshold && r.excludesNoChangeAbove {
      self = .regression
    } else if r.ratio < 1 / (1 + threshold) && r.excludesNoChangeBelow {
      self = .faster
    } else if r.isBounded && r.high <= 1 + threshold {
      self = .unchanged
    } else {
      self = .inconclusive
    }
  }
}
