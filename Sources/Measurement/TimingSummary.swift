/// Summary statistics of repeated timings: the one definition of each
/// statistic that every report, the tuner and the regression gate use.
///
/// Quantiles interpolate linearly between order statistics (NumPy's default
/// "linear" method, Hyndman & Fan type 7), so the median of an odd count is
/// the middle value and of an even count the mean of the middle two.
public struct TimingSummary: Sendable, Equatable, Codable {
  public var count: Int
  public var median: Double
  /// 10th and 90th percentiles.
  public var p10: Double
  public var p90: Double
  public var mean: Double
  public var min: Double
  public var max: Double
  /// Sample standard deviation (n − 1); 0 for fewer than two samples.
  public var standardDeviation: Double
  /// Standard deviation divided by the mean; 0 for fewer than two samples.
  public var coefficientOfVariation: Double

  /// Runs whose coefficient of variation exceeds this are flagged as noisy.
  public static let noisyThreshold = 0.05

  public var isNoisy: Bool { coefficientOfVariation > Self.noisyThreshold }

  public init(_ samples: [Double]) {
    precondition(!samples.isEmpty, "no samples to summarise")
    let sorted = samples.sorted()
    count = sorted.count
    median = Self.quantile(sorted, 0.5)
    p10 = Self.quantile(sorted, 0.1)
    p90 = Self.quantile(sorted, 0.9)
    mean = sorted.reduce(0, +) / Double(count)
    min = sorted[0]
    max = sorted[sorted.count - 1]
    if count > 1 {
      let m = mean
      standardDeviation = (sorted.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(count - 1)).squareRoot()
      coefficientOfVariation = mean != 0 ? standardDeviation / mean : 0
    } else {
      standardDeviation = 0
      coefficientOfVariation = 0
    }
  }

  /// The `q`-quantile of sorted data, interpolating linearly.
  public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty && q >= 0 && q <= 1)
    let position = q * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = Swift.min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
  }

  /// The median of unsorted data, by the same definition.
  public static func median(_ samples: [Double]) -> Double { quantile(samples.sorted(), 0.5) }
}
