import ConvCore
import Foundation

/// NumPy `.npy` files (format version 1.0 and 2.0 read, 1.0 written), float32
/// little-endian, C order: the interchange format for inputs (`--input`, NHWC)
/// and logits (`--dump-logits`, [batch, classes]).
public enum NpyFile {
  private static let magic: [UInt8] = [0x93] + Swift.Array("NUMPY".utf8)

  public struct Array: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
  }

  public static func encode(_ array: Array) -> Data {
    let shapeText = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(\(array.shape.map(String.init).joined(separator: ", ")))"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out = Data(magic)
    out.append(contentsOf: [1, 0])
    withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: header.utf8)
    for v in array.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    return out
  }

  public static func write(_ array: Array, to url: URL) throws {
    try AtomicFile.write(encode(array), to: url)
  }

  public static func read(contentsOf url: URL) throws -> Array {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw WeightsFileError("\(url.path): cannot read (\(error.localizedDescription))")
    }
    return try decode(data, source: url.path)
  }

  public static func decode(_ data: Data, source: String = "npy") throws -> Array {
    let bytes = [UInt8](data)
    guard bytes.count >= 10, Swift.Array(bytes[0..<6]) == magic else {
      throw WeightsFileError("\(source): not a .npy file (bad magic at byte 0)")
    }
    let major = bytes[6]
    let lengthBytes = major == 1 ? 2 : 4
    guard major == 1 || major == 2 || major == 3 else { throw WeightsFileError("\(source): unsupported .npy version \(major).\(bytes[7]) at byte 6") }
    guard bytes.count >= 8 + lengthBytes else { throw WeightsFileError("\(source): truncated at byte \(bytes.count) inside the header length") }
    var headerLength = 0
    for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
    let dataStart = 8 + lengthBytes + headerLength
    guard bytes.count >= dataStart else {
      throw WeightsFileError("\(source): truncated at byte \(bytes.count); the header claims to end at byte \(dataStart)")
    }
    guard let header = String(bytes: bytes[(8 + lengthBytes)..<dataStart], encoding: .utf8) else {
      throw WeightsFileError("\(source): header at byte \(8 + lengthBytes) is not text")
    }
    guard let descr = field("descr", in: header) else { throw WeightsFileError("\(source): header lacks 'descr'") }
    guard descr == "'<f4'" || descr == "'float32'" else {
      throw WeightsFileError("\(source): dtype \(descr) not supported; expected little-endian float32 ('<f4')")
    }
    guard let fortran = field("fortran_order", in: header) else { throw WeightsFileError("\(source): header lacks 'fortran_order'") }
    guard fortran == "False" else { throw WeightsFileError("\(source): Fortran-ordered arrays are not supported") }
    guard let shapeText = field("shape", in: header), shapeText.hasPrefix("("), shapeText.hasSuffix(")") else {
      throw WeightsFileError("\(source): header lacks a 'shape' tuple")
    }
    let dims = shapeText.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    var shape: [Int] = []
    for d in dims {
      guard let n = Int(d), n >= 0 else { throw WeightsFileError("\(source): malformed shape \(shapeText)") }
      shape.append(n)
    }
    guard let (count, needed) = tensorSize(shape: shape, elementSize: 4) else {
      throw WeightsFileError("\(source): shape \(shape) is too large to address")
    }
    guard bytes.count - dataStart == needed else {
      throw WeightsFileError("\(source): shape \(shape) needs \(needed) data bytes from byte \(dataStart), the file has \(bytes.count - dataStart)")
    }
    var values = [Float](repeating: 0, count: count)
    for i in 0..<count {
      let o = dataStart + 4 * i
      let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
      values[i] = Float(bitPattern: bits)
    }
    return Array(shape: shape, values: values)
  }

  /// The text of `'key': value` in a .npy header dict: a quoted string, a word or a tuple.
  private static func field(_ key: String, in header: String) -> String? {
    guard let range = header.range(of: "'\(key)':") else { return nil }
    let rest = header[range.upperBound...].drop(while: { $0 == " " })
    if rest.first == "(" {
      guard let close = rest.firstIndex(of: ")") else { return nil }
      return String(rest[...close])
    }
    if rest.first == "'" {
      guard let close = rest.dropFirst().firstIndex(of: "'") else { return nil }
      return String(rest[...close])
    }
    return String(rest.prefix(while: { $0 != "," && $0 != "}" })).trimmingCharacters(in: .whitespaces)
  }
}
