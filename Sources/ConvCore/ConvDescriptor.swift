import Foundation

/// A descriptor that could not be read; the message names the offending part.
public struct DescriptorError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public var description: String { message }
}

extension ConvProblem {
  /// Fields of benchdnn's convolution descriptor, longest keys first so that
  /// `mb` is not read as something else and `ih` before `i`.
  private static let keys = [
    "mb", "g", "ic", "id", "ih", "iw", "oc", "od", "oh", "ow",
    "kd", "kh", "kw", "sd", "sh", "sw", "pd", "ph", "pw", "dd", "dh", "dw",
  ]

  /// benchdnn's default minibatch when `mb` is omitted.
  public static let benchdnnDefaultBatch = 2

  /// Parses a benchdnn convolution descriptor.
  ///
  /// Follows benchdnn's rules for omitted fields: `mb` defaults to 2, `iw` to
  /// `ih`, `kw` to `kh`, strides to 1, padding to 0 (`pw` to `ph`, `sw` to
  /// `sh`). `oh`/`ow` may be given and must then match the computed output.
  /// Underscores between fields are allowed (`g1mb1_ic3ih224_oc64_kh7sh2ph3`).
  /// Only 2-D, groups 1, dilation 0 (benchdnn's "no dilation") are accepted.
  public init(descriptor text: String) throws {
    var fields: [String: Int] = [:]
    var name: String?
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    if rest.isEmpty { throw DescriptorError(message: "empty convolution descriptor") }
    while !rest.isEmpty {
      if rest.first == "_" { rest = rest.dropFirst(); continue }
      if rest.first == "n" {  // no field key starts with "n"
        name = try Self.parseName(&rest, in: text)
        continue
      }
      guard let key = Self.keys.first(where: { rest.hasPrefix($0) }) else {
        throw DescriptorError(message: "unknown field at '\(rest.prefix(8))' in descriptor '\(text)'")
      }
      rest = rest.dropFirst(key.count)
      let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
      guard !digits.isEmpty, let value = Int(digits) else {
        throw DescriptorError(message: "field '\(key)' has no number in descriptor '\(text)'")
      }
      if fields[key] != nil { throw DescriptorError(message: "field '\(key)' appears twice in descriptor '\(text)'") }
      fields[key] = value
      rest = rest.dropFirst(digits.count)
    }
    for key in ["id", "od", "kd", "sd", "pd", "dd"] where fields[key] != nil {
      throw DescriptorError(message: "field '\(key)' describes a 3-D convolution; only 2-D is supported")
    }
    if let g = fields["g"], g != 1 { throw DescriptorError(message: "groups g\(g) not supported; only g1") }
    for key in ["dh", "dw"] { if let d = fields[key], d != 0 {
      throw DescriptorError(message: "dilation '\(key)\(d)' not supported; only no dilation (0)")
    } }
    guard let ic = fields["ic"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'ic' (input channels)") }
    guard let oc = fields["oc"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'oc' (output channels)") }
    guard let ih = fields["ih"] ?? fields["iw"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'ih' (input height)") }
    guard let kh = fields["kh"] ?? fields["kw"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'kh' (kernel height)") }
    let sh = fields["sh"] ?? fields["sw"] ?? 1
    let ph = fields["ph"] ?? fields["pw"] ?? 0
    self.init(
      batch: fields["mb"] ?? Self.benchdnnDefaultBatch, inChannels: ic,
      inHeight: ih, inWidth: fields["iw"] ?? ih, outChannels: oc,
      kernelHeight: kh, kernelWidth: fields["kw"] ?? kh,
      strideHeight: sh, strideWidth: fields["sw"] ?? sh,
      padHeight: ph, padWidth: fields["pw"] ?? ph, name: name)
    if let reason = invalidReason { throw DescriptorError(message: "descriptor '\(text)': \(reason)") }
    if let oh = fields["oh"], oh != outHeight {
      throw DescriptorError(message: "descriptor '\(text)': oh\(oh) does not match the computed output height \(outHeight)")
    }
    if let ow = fields["ow"], ow != outWidth {
      throw DescriptorError(message: "descriptor '\(text)': ow\(ow) does not match the computed output width \(outWidth)")
    }
  }

  /// Reads `n"name"` (or benchdnn's unquoted `nname`, which runs to the end).
  private static func parseName(_ rest: inout Substring, in text: String) throws -> String {
    rest = rest.dropFirst()
    if rest.first == "\"" {
      rest = rest.dropFirst()
      guard let close = rest.firstIndex(of: "\"") else {
        throw DescriptorError(message: "unterminated name (missing closing quote) in descriptor '\(text)'")
      }
      let name = String(rest[..<close])
      rest = rest[rest.index(after: close)...]
      return name
    }
    let name = String(rest)
    rest = rest[rest.endIndex...]
    if name.isEmpty { throw DescriptorError(message: "empty name after 'n' in descriptor '\(text)'") }
    // A quote could not be printed back inside n"…"; found by fuzzing the round trip.
    if name.contains("\"") { throw DescriptorError(message: "a quote inside the unquoted name '\(name)' in descriptor '\(text)'") }
    return name
  }
}
