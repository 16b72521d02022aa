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
    // The error names the file the problem is in: the top file, or one the
    // text includes (an include resolves relative to its includer, so an
    // included file's name ends with what a --batch= line says).
    let included = text.split(whereSeparator: \.isNewline).compactMap { line -> Substring? in
      guard let r = line.range(of: "--batch=") else { return nil }
      return line[r.upperBound...].prefix { !$0.isWhitespace && $0 != "#" }
    }
    if !e.message.hasPrefix("fuzz.batch") && !included.contains(where: { e.message.contains($0 + ":") }) {
      fatalError("a batch-file error not naming a file of the include chain: \(e.message)")
    }
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  return 0
}
