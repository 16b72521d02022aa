import Foundation
import Harness

/// libFuzzer entry point: any text must parse as CSV or throw
/// CSV.ParseError; a parsed document, written back with CSV.line, must parse
/// to the same records.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  guard let records = try? CSV.parse(text) else { return 0 }
  let written = records.map(CSV.line).joined()
  guard let again = try? CSV.parse(written), again == records else {
    fatalError("CSV round trip failed for \(text.debugDescription)")
  }
  return 0
}
