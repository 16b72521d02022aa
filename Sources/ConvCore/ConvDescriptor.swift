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

  /// The fields that make a problem three-dimensional.
  public static let threeDimensionalKeys = ["id", "od", "kd", "sd", "pd", "dd"]

  /// benchdnn's default minibatch when `mb` is omitted.
  public static let benchdnnDefaultBatch = 2

  /// Parses a benchdnn convolution descriptor.
  ///
  /// Follows benchdnn's rules (tests/benchdnn/conv/conv_aux.cpp, `str2desc`):
  /// `mb` defaults to 2 and `g` to 1; a width field that is not given takes
  /// the height's value (`iw` = `ih`, `kw` = `kh`, `sw` = `sh`, `pw` = `ph`,
  /// `dw` = `dh`); strides default to 1, dilation to 0 (none). Without `oh`
  /// the output is computed from symmetric padding (default 0). With `oh` and
  /// no `ph`, the padding is benchdnn's `((oh − 1)·sh − ih + (kh − 1)·(dh + 1) + 1) / 2`;
  /// with both, the bottom padding is whatever makes the output `oh` rows
  /// (`(oh − 1)·sh − ih + (kh − 1)·(dh + 1) + 1 − ph`), which may differ from
  /// `ph`: asymmetric padding. Likewise for `ow`. Underscores between fields
  /// are allowed (`g1mb1_ic3ih224_oc64_kh7sh2ph3`). 3-D fields are refused.
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
      if digits.isEmpty { throw DescriptorError(message: "field '\(key)' has no number in descriptor '\(text)'") }
      guard let value = Int(digits), value <= Self.maxDimension else {
        throw DescriptorError(message: "field '\(key)\(digits.prefix(12))' exceeds the supported \(Self.maxDimension) in descriptor '\(text)'")
      }
      if fields[key] != nil { throw DescriptorError(message: "field '\(key)' appears twice in descriptor '\(text)'") }
      fields[key] = value
      rest = rest.dropFirst(digits.count)
    }
    for key in Self.threeDimensionalKeys where fields[key] != nil {
      throw DescriptorError(message: "field '\(key)' describes a 3-D convolution; only 2-D is supported")
    }
    guard let ic = fields["ic"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'ic' (input channels)") }
    guard let oc = fields["oc"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'oc' (output channels)") }
    guard let ih = fields["ih"] ?? fields["iw"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'ih' (input height)") }
    guard let kh = fields["kh"] ?? fields["kw"] else { throw DescriptorError(message: "descriptor '\(text)' lacks 'kh' (kernel height)") }
    let iw = fields["iw"] ?? ih, kw = fields["kw"] ?? kh
    let sh = fields["sh"] ?? fields["sw"] ?? 1, sw = fields["sw"] ?? sh
    let dh = fields["dh"] ?? fields["dw"] ?? 0, dw = fields["dw"] ?? dh
    for (key, value) in [("sh", sh), ("sw", sw)] where value < 1 {
      throw DescriptorError(message: "descriptor '\(text)': \(key) must be at least 1 (got \(value))")
    }
    // The output width defaults to the output height only for a square problem.
    let ph = fields["ph"] ?? fields["pw"], pw = fields["pw"] ?? fields["ph"]
    let square = iw == ih && kw == kh && sw == sh && dw == dh && pw == ph
    let rows = Self.padding(given: ph, output: fields["oh"] ?? (square ? fields["ow"] : nil),
                            input: ih, kernel: kh, stride: sh, dilation: dh)
    let columns = Self.padding(given: pw, output: fields["ow"] ?? (square ? fields["oh"] : nil),
                               input: iw, kernel: kw, stride: sw, dilation: dw)
    for (key, output, pad) in [("oh", fields["oh"], rows.before), ("ow", fields["ow"], columns.before)] where pad < 0 {
      throw DescriptorError(message: "descriptor '\(text)': \(key)\(output ?? 0) needs a negative padding (\(pad)); the output cannot be that small")
    }
    self.init(
      batch: fields["mb"] ?? Self.benchdnnDefaultBatch, groups: fields["g"] ?? 1, inChannels: ic,
      inHeight: ih, inWidth: iw, outChannels: oc, kernelHeight: kh, kernelWidth: kw,
      strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw,
      padHeight: rows.before, padWidth: columns.before, padBottom: rows.after, padRight: columns.after, name: name)
    if let reason = invalidReason { throw DescriptorError(message: "descriptor '\(text)': \(reason)") }
    if let oh = fields["oh"], oh != outHeight {
      throw DescriptorError(message: "descriptor '\(text)': oh\(oh) cannot be reached with ph\(padTop) (the output has \(outHeight) rows)")
    }
    if let ow = fields["ow"], ow != outWidth {
      throw DescriptorError(message: "descriptor '\(text)': ow\(ow) cannot be reached with pw\(padLeft) (the output has \(outWidth) columns)")
    }
  }

  /// The padding before and after one spatial dimension, as benchdnn derives
  /// it from the given padding and output size (all values already bounded
  /// by `maxDimension`, so the arithmetic cannot overflow).
  private static func padding(given: Int?, output: Int?, input: Int, kernel: Int, stride: Int, dilation: Int)
    -> (before: Int, after: Int)
  {
    guard let output else { return (given ?? 0, given ?? 0) }
    // The rows the output needs minus the input's: the padding both sides share.
    let needed = (output - 1) * stride + (kernel - 1) * (dilation + 1) + 1 - input
    // benchdnn divides with C's truncation toward zero.
    let before = given ?? (needed >= 0 ? needed / 2 : -((-needed) / 2))
    return (before, needed - before)
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
