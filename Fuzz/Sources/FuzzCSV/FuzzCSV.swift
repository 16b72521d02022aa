import Foundation
import Harness

/// libFuzzer entry point, the CSV loader as `compare` and `report` call it:
/// any text must parse or throw CSV.ParseError. A parsed document, written
/// back with CSV.line, must parse to the same records; the whole text is
/// then read as `compare` reads a results CSV (header, schema, records),
/// which must load or throw its one-line error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  if let records = try? CSV.parse(text) {
    let written = records.map(CSV.line).joined()
    guard let again = try? CSV.parse(written), again == records else {
      fatalError("CSV round trip failed for \(text.debugDescription)")
    }
  }
  // With the header of a results CSV in front, the fuzzer's rows reach the record checks.
  for document in [text, BenchmarkRecord.header() + text] {
    do {
      let records = try BenchmarkRecord.decode(document, source: "fuzz.csv")
      _ = try? Compare.compare(baseline: records, current: records, thresholdPercent: 5)
    } catch let e as CSV.ParseError {
      if e.message.contains("\n") { fatalError("a CSV error of more than one line: \(e.message)") }
    } catch {
      fatalError("unexpected error type \(type(of: error)): \(error)")
    }
  }
  return 0
}
