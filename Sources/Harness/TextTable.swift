/// A plain-text table with right-aligned numeric columns, for terminal output.
public struct TextTable {
  public var header: [String]
  public var rows: [[String]] = []

  public init(_ header: [String]) { self.header = header }

  public mutating func add(_ row: [String]) { rows.append(row) }

  public func render() -> String {
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { $0.indices.contains(c) ? $0[c].count : 0 }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { c, cell in
        let pad = String(repeating: " ", count: widths[c] - cell.count)
        return c == 0 ? cell + pad : pad + cell
      }.joined(separator: "  ")
    }
    var out = line(header) + "\n" + line(widths.map { String(repeating: "-", count: $0) }) + "\n"
    for row in rows { out += line(row) + "\n" }
    return out
  }
}

/// Fixed-point formatting without Foundation's locale.
public func fixed(_ value: Double, _ digits: Int) -> String {
  guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let rounded = (abs(value) * scale).rounded() / scale
  var text = String(Int(rounded))
  if digits > 0 {
    let fraction = Int(((rounded - rounded.rounded(.down)) * scale).rounded())
    let digitsText = String(fraction)
    text += "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
  }
  return (value < 0 && rounded != 0 ? "-" : "") + text
}

/// Scientific formatting for errors, e.g. 3.1e-05.
public func scientific(_ value: Double) -> String {
  guard value.isFinite else { return value.isNaN ? "nan" : "inf" }
  if value == 0 { return "0" }
  var exponent = 0
  var mantissa = value
  while abs(mantissa) >= 10 { mantissa /= 10; exponent += 1 }
  while abs(mantissa) < 1 { mantissa *= 10; exponent -= 1 }
  let sign = exponent < 0 ? "-" : "+"
  let e = abs(exponent)
  return fixed(mantissa, 1) + "e" + sign + (e < 10 ? "0" : "") + String(e)
}
