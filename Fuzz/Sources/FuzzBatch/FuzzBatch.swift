import Foundation
import Harness

/// libFuzzer entry point, a benchdnn batch file as `conv --batch` reads it:
/// any text must parse (and its problems convert to convolution problems) or
/// throw a one-line BatchFileError naming the file and line. An include
/// reads the same text again, so include chains and cycles are exercised too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  // The paths the parser asked for: an error names the top file or one of them.
  var requested: [String] = []
  do {
    let batch = try BenchdnnBatch.parse(text, source: "fuzz.batch", read: { path in requested.append(path); return text })
    _ = try ConvSweep.items(batch)
  } catch let e as BatchFileError {
    if e.message.contains("\n") { fatalError("a batch-file error of more than one line: \(e.message)") }
    if !(["fuzz.batch"] + requested).contains(where: { e.message.hasPrefix($0 + ":") }) {
      fatalError("a batch-file error not naming a file of the include chain: \(e.message)")
    }
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  return 0
}
