import ConvCore
/// Compares two benchmark CSVs row by row: what got slower, by how much, and
/// whether the change stands out from both runs' spread.
public enum Compare {
  public struct Change: Sendable {
    public var key: String
    public var baselineMs: Double
    public var currentMs: Double
    /// (current − baseline) / baseline, as a percentage; positive is slower.
    public var percent: Double
    /// The runs' p10–p90 ranges do not overlap: the change is larger than either run's own spread.
    public var standsOut: Bool
    /// Slower by more than the threshold and standing out.
    public var isRegression: Bool
    public var isImprovement: Bool
  }

  public struct Result: Sendable {
    public var changes: [Change]
    public var unmatchedBaseline: [String]
    public var unmatchedCurrent: [String]
    public var fingerprintsDiffer: Bool
    public var regressions: [Change] { changes.filter(\.isRegression) }
  }

  public struct UnusableInput: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
  }

  public static func compare(baseline: [BenchmarkRecord], current: [BenchmarkRecord], thresholdPercent: Double) throws -> Result {
    let base = Dictionary(baseline.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    let now = Dictionary(current.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    var changes: [Change] = []
    for record in current where base[record.key] != nil {
      let old = base[record.key]!
      guard let b = Double(old["median_ms"]), let c = Double(record["median_ms"]), b > 0 else {
        throw UnusableInput(message: "row \(printable(record.key)): median_ms is not a positive number")
      }
      let bLow = Double(old["p10_ms"]) ?? b, bHigh = Double(old["p90_ms"]) ?? b
      let cLow = Double(record["p10_ms"]) ?? c, cHigh = Double(record["p90_ms"]) ?? c
      let percent = (c - b) / b * 100
      let standsOut = cLow > bHigh || cHigh < bLow
      changes.append(Change(
        key: record.key, baselineMs: b, currentMs: c, percent: percent, standsOut: standsOut,
        isRegression: percent > thresholdPercent && standsOut,
        isImprovement: percent < -thresholdPercent && standsOut))
    }
    if changes.isEmpty {
      throw UnusableInput(message: "no rows match between the two files (rows are matched on \(BenchmarkRecord.identity.joined(separator: ", ")))")
    }
    let fingerprints = Set(baseline.map { $0["fingerprint"] }).union(current.map { $0["fingerprint"] })
    return Result(
      changes: changes,
      unmatchedBaseline: baseline.map(\.key).filter { now[$0] == nil },
      unmatchedCurrent: current.map(\.key).filter { base[$0] == nil },
      fingerprintsDiffer: fingerprints.count > 1)
  }
}
