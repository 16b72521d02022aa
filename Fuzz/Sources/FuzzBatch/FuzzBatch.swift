import Foundation
import Harness

/// libFuzzer entry point, a benchdnn batch file as `conv --batch` reads it:
/// any text must parse (and its problems convert to convolution problems) or
/// throw a one-line BatchFileError naming the file and line. An include
/// reads the same text again, so include chains and cycles are exercised too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  do {
    let batch = try BenchdnnBatch.parse(text, source: "fuzz.batch", read: { _ in text })
    _ = try ConvSweep.items(batch)
  } catch let e as BatchFileError {
    if e.message.contains("\n") { fatalError("a batch-file error of more than one line: \(e.message)") }
    // The error names the file the problem is in: the top file, or an
    // included one (whose last path component the text names in a --batch=).
    let file = e.message.prefix { $0 != ":" }
    let leaf = file.split(separator: "/").last.map(String.init) ?? ""
    if file != "fuzz.batch" && (leaf.isEmpty || !text.contains(leaf)) {
      fatalError("a batch-file error not naming a file of the include chain: \(e.message)")
    }
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  return 0
}
