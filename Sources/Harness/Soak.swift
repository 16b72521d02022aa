#if canImport(Glibc)
import Glibc
#endif
import ConvCore
import Measurement
import Foundation
import ResNet

/// Repeated inference on one engine: resident memory must not grow and the
/// logits must stay bit-identical from the first inference to the last.
public enum Soak {
  public struct Result: Sendable {
    public var iterations: Int
    /// Resident set size after the first inference and after the last, bytes.
    public var rssStart: Int
    public var rssEnd: Int
    public var identical: Bool
    public var seconds: Double
  }

  /// Resident set size of this process, bytes (from /proc/self/statm), or 0 where unavailable.
  public static func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }

  public static func run(_ engine: InferenceEngine, input: [Float], iterations: Int, progress: ((Int) -> Void)? = nil) -> Result {
    engine.setInput(input)
    engine.run()
    let first = engine.logits
    let rssStart = residentBytes()
    let start = Stopwatch.now()
    for i in 1..<max(iterations, 2) {
      engine.run()
      if i % 100 == 0 { progress?(i) }
    }
    let last = engine.logits
    let identical = first.count == last.count && zip(first, last).allSatisfy { $0.bitPattern == $1.bitPattern }
    return Result(iterations: max(iterations, 2), rssStart: rssStart, rssEnd: residentBytes(), identical: identical,
                  seconds: Stopwatch.now() - start)
  }
}
