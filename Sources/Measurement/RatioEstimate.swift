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
/// §3.2–3.3 (one-sample / paired) and §4.3 (two-sample), whose normal
/// approximations for the order statistics that bound the interval are used.
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

  /// The estimate and interval from sorted candidate statistics `values`
  /// (pairwise differences or Walsh averages of log-times), whose interval
  /// bounds are the `k`-th smallest and largest with `k` from the normal
  /// approximation `centre − z·spread`, rounded down.
  private static func fromOrderStatistics(_ values: [Double], centre: Double, spread: Double, confidence: Double,
                                          pairs: Int, paired: Bool) -> RatioEstimate {
    let sorted = values.sorted()
    let estimate = TimingSummary.quantile(sorted, 0.5)
    let k = Int((centre - normalQuantile(twoSided: confidence) * spread).rounded(.down))
    guard k >= 1, k <= sorted.count else {
      return RatioEstimate(ratio: exp(estimate), low: 0, high: .infinity, confidence: confidence, pairs: pairs, paired: paired)
    }
    return RatioEstimate(ratio: exp(estimate), low: exp(sorted[k - 1]), high: exp(sorted[sorted.count - k]),
                         confidence: confidence, pairs: pairs, paired: paired)
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
    var walsh: [Double] = []
    walsh.reserveCapacity(d.count * (d.count + 1) / 2)
    for i in d.indices { for j in i..<d.count { walsh.append((d[i] + d[j]) / 2) } }
    let m = Double(d.count)
    return fromOrderStatistics(walsh, centre: m * (m + 1) / 4, spread: (m * (m + 1) * (2 * m + 1) / 24).squareRoot(),
                               confidence: confidence, pairs: d.count, paired: true)
  }

  /// Independent samples: the Hodges–Lehmann estimate of the shift between
  /// log-times (the median of all log(candidateⱼ) − log(baseᵢ)) and the
  /// Mann–Whitney interval.
  public static func unpaired(base: [Double], candidate: [Double], confidence: Double = 0.95) -> RatioEstimate {
    let a = base.filter { $0 > 0 }.map { Foundation.log($0) }, b = candidate.filter { $0 > 0 }.map { Foundation.log($0) }
    guard !a.isEmpty, !b.isEmpty else {
      return RatioEstimate(ratio: .nan, low: 0, high: .infinity, confidence: confidence, pairs: 0, paired: false)
    }
    var differences: [Double] = []
    differences.reserveCapacity(a.count * b.count)
    for x in a { for y in b { differences.append(y - x) } }
    let (m, n) = (Double(a.count), Double(b.count))
    return fromOrderStatistics(differences, centre: m * n / 2, spread: (m * n * (m + n + 1) / 12).squareRoot(),
                               confidence: confidence, pairs: min(a.count, b.count), paired: false)
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
