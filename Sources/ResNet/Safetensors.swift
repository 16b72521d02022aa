import ConvCore
import Foundation

/// A safetensors file that cannot be used; the message names the tensor or byte offset.
public struct WeightsFileError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// What a safetensors file holds: its F32 tensors, and the dtype of every other tensor.
public struct SafetensorsContents: Sendable {
  public var tensors: StateDict
  /// Tensors of any other dtype, by name; a model that needs one of them reports its dtype.
  public var nonFloat: [String: String]
}

/// Reading and writing the safetensors format: an 8-byte little-endian header
/// length N, N bytes of JSON mapping each tensor name to its dtype, shape and
/// [begin, end) byte range in the data section that follows, then the data.
/// Only F32 tensors are read as values; others (e.g. torchvision's I64
/// `num_batches_tracked`) are checked for consistency and skipped.
public enum Safetensors {
  /// Headers larger than this are refused before they are read (the format's own limit is 100 MB).
  public static let maxHeaderBytes = 100_000_000

  private static let dtypeSizes = [
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
  ]

  public static func read(contentsOf url: URL) throws -> SafetensorsContents {
    let data: Data
    do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
      throw WeightsFileError("\(url.path): cannot read (\(error.localizedDescription))")
    }
    return try decode(data, source: url.path)
  }

  /// Decodes a whole file held in `data`; `source` names it in errors.
  public static func decode(_ data: Data, source: String = "weights") throws -> SafetensorsContents {
    guard data.count >= 8 else {
      throw WeightsFileError("\(source): truncated at byte \(data.count); a safetensors file starts with an 8-byte header length")
    }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard headerLength <= UInt64(maxHeaderBytes) else {
      throw WeightsFileError("\(source): header length \(headerLength) at byte 0 is larger than the \(maxHeaderBytes)-byte limit")
    }
    let dataStart = 8 + Int(headerLength)
    guard data.count >= dataStart else {
      throw WeightsFileError("\(source): truncated at byte \(data.count); the header claims to end at byte \(dataStart)")
    }
    let headerBytes = data.subdata(in: data.startIndex + 8 ..< data.startIndex + dataStart)
    guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
      throw WeightsFileError("\(source): malformed JSON header in bytes 8..<\(dataStart)")
    }
    let dataLength = data.count - dataStart
    // Tensors may not share bytes: each is copied out on its own, so a file
    // whose entries all name the same span would ask for its size times the
    // number of entries.
    var spans: [(start: Int, end: Int, name: String)] = []
    for (name, value) in header where name != "__metadata__" {
      guard let entry = value as? [String: Any], let o = entry["data_offsets"] as? [Any], o.count == 2,
            let start = (o[0] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
            let end = (o[1] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }), start < end else { continue }
      spans.append((start, end, name))
    }
    spans.sort { ($0.start, $0.name) < ($1.start, $1.name) }
    for (a, b) in zip(spans, spans.dropFirst()) where b.start < a.end {
      throw WeightsFileError("\(source): tensors '\(printable(a.name))' (bytes \(a.start)..<\(a.end)) and '\(printable(b.name))' (bytes \(b.start)..<\(b.end)) overlap in the data section")
    }
    var dict = StateDict()
    var nonFloat: [String: String] = [:]
    for (name, value) in header where name != "__metadata__" {
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
            let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any]
      else { throw WeightsFileError("\(source): header entry for tensor '\(printable(name))' lacks dtype, shape or data_offsets") }
      let shape = try shapeAny.map { v -> Int in
        guard let n = (v as? NSNumber)?.intValue, n >= 0, (v as? NSNumber)?.doubleValue == Double(n) else {
          throw WeightsFileError("\(source): tensor '\(printable(name))' has a malformed shape \(shapeAny)")
        }
        return n
      }
      let offsets = try offsetsAny.map { v -> Int in
        guard let n = (v as? NSNumber)?.intValue, n >= 0, (v as? NSNumber)?.doubleValue == Double(n) else {
          throw WeightsFileError("\(source): tensor '\(printable(name))' has malformed data_offsets \(offsetsAny)")
        }
        return n
      }
      guard let elementSize = dtypeSizes[dtype] else { throw WeightsFileError("\(source): tensor '\(printable(name))' has unknown dtype '\(printable(dtype))'") }
      guard offsets.count == 2, offsets[0] <= offsets[1] else {
        throw WeightsFileError("\(source): tensor '\(printable(name))' has malformed data_offsets \(offsets)")
      }
      guard offsets[1] <= dataLength else {
        throw WeightsFileError("\(source): truncated: tensor '\(printable(name))' ends at byte \(offsets[1]) of the data section, which has \(dataLength) bytes")
      }
      guard let (count, needed) = tensorSize(shape: shape, elementSize: elementSize) else {
        throw WeightsFileError("\(source): tensor '\(printable(name))' has shape \(shape), too large to address")
      }
      guard needed == offsets[1] - offsets[0] else {
        throw WeightsFileError("\(source): tensor '\(printable(name))' of shape \(shape) and dtype \(printable(dtype)) needs \(needed) bytes but its data_offsets span \(offsets[1] - offsets[0])")
      }
      guard dtype == "F32" else { nonFloat[name] = dtype; continue }
      var values = [Float](repeating: 0, count: count)
      values.withUnsafeMutableBytes { dst in
        _ = data.copyBytes(to: dst, from: data.startIndex + dataStart + offsets[0] ..< data.startIndex + dataStart + offsets[1])
      }
      for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
      dict[name] = NamedTensor(shape: shape, values: values)
    }
    return SafetensorsContents(tensors: dict, nonFloat: nonFloat)
  }

  /// Writes `dict` with keys in sorted order, the header padded with spaces to
  /// a multiple of 8 bytes (so the data section is aligned), all tensors F32.
  public static func encode(_ dict: StateDict, metadata: [String: String] = [:]) -> Data {
    var entries: [String] = []
    if !metadata.isEmpty {
      let fields = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
      entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
    }
    var offset = 0
    let names = dict.keys.sorted()
    for name in names {
      let t = dict[name]!
      let bytes = t.values.count * 4
      entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
      offset += bytes
    }
    var header = Array("{\(entries.joined(separator: ","))}".utf8)
    while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
    var out = Data(capacity: 8 + header.count + offset)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: header)
    for name in names {
      dict[name]!.values.withUnsafeBufferPointer { values in
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
      }
    }
    return out
  }

  public static func write(_ dict: StateDict, to url: URL, metadata: [String: String] = [:]) throws {
    try AtomicFile.write(encode(dict, metadata: metadata), to: url)
  }

  private static func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
