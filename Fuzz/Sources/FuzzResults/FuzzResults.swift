import Foundation
import Harness

/// libFuzzer entry point, a results file as `compare` reads it (Google
/// Benchmark JSON): any bytes must decode or throw its one-line FormatError;
/// a decoded document must compare with itself (every series unchanged or
/// inconclusive, never a regression).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResults(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let document: GoogleBenchmarkJSON.Document
  do { document = try GoogleBenchmarkJSON.decode(Data(bytes: data, count: size), source: "fuzz.json") } catch let e as GoogleBenchmarkJSON.FormatError {
    if e.description.contains("\n") { fatalError("a results error of more than one line: \(e.description)") }
    return 0
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  if let result = try? SampleComparison.compare(base: [document], current: [document], threshold: 0.05),
     !result.regressions.isEmpty {
    fatalError("a document compared with itself regressed: \(result.regressions.map(\.name))")
  }
  return 0
}
