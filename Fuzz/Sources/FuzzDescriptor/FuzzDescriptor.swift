import ConvCore
import Foundation

/// libFuzzer entry point: any bytes, read as text, must parse as a benchdnn
/// descriptor or throw DescriptorError; a valid parse must print and re-parse
/// to the same problem. A trap or crash is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDescriptor(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  guard let problem = try? ConvProblem(descriptor: text) else { return 0 }
  guard let again = try? ConvProblem(descriptor: problem.description), again == problem else {
    fatalError("descriptor round trip failed for \(text.debugDescription)")
  }
  _ = problem.macs
  return 0
}
