/// Summary statistics of repeated timings.
public struct TimingSummary: Sendable, Equatable {
  public var count: Int
  public var median: Double
  /// 10th and 90th percentiles (linear interpolation between order statistics).
  public var p10: Double
  public var p90: Double
  public var mean: Double
  public var min: Double
  public var max: Double
  /// Sample standard deviation divided by the mean; 0 for fewer than two samples.
  public var coefficientOfVariation: Double

  /// Runs whose coefficient of variation exceeds this are flagged as noisy.
  public static let noisyThreshold = 0.05

  public var isNoisy: Bool { coefficientOfVariation > Self.noisyThreshold }

  public init(_ samples: [Double]) {
    precondition(!samples.isEmpty, "no samples to summarise")
    let sorted = samples.sorted()
    count = sorted.count
    median = Self.percentile(sorted, 0.5)
    p10 = Self.percentile(sorted, 0.1)
    p90 = Self.percentile(sorted, 0.9)
    mean = sorted.reduce(0, +) / Double(count)
    min = sorted.first!
    max = sorted.last!
    if count > 1 && mean != 0 {
      let m = mean
      let variance = sorted.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(count - 1)
      coefficientOfVariation = variance.squareRoot() / mean
    } else {
      coefficientOfVariation = 0
    }
  }

  /// The `q`-quantile of sorted data, interpolating linearly (NumPy's default "linear" method).
  public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty && q >= 0 && q <= 1)
    let position = q * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = Swift.min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
  }
}
