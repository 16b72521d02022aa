/// A plain-text table for terminal output: each column aligned by its kind
/// (text left, numbers right), and notes ("unsupported: …", a phase
/// breakdown) on lines of their own under the row they belong to, so a long
/// note never widens a numeric column.
public struct TextTable {
  public enum Alignment: Sendable { case left, right }

  public struct Column: Sendable {
    public var title: String
    public var alignment: Alignment
    public init(_ title: String, _ alignment: Alignment) {
      self.title = title
      self.alignment = alignment
    }
  }

  enum Line {
    case cells([String])
    case note(String)
  }

  public var columns: [Column]
  var lines: [Line] = []

  public init(_ columns: [Column]) { self.columns = columns }

  /// A table whose first column is text and the rest numbers.
  public init(_ titles: [String]) {
    columns = titles.enumerated().map { Column($1, $0 == 0 ? .left : .right) }
  }

  /// Rows added so far (notes not counted).
  public var rowCount: Int { lines.filter { if case .cells = $0 { return true } else { return false } }.count }

  public mutating func add(_ row: [String]) { lines.append(.cells(row)) }

  /// A line of its own under the last row, indented by two spaces.
  public mutating func note(_ text: String) { lines.append(.note(text)) }

  public func render() -> String {
    let widths = columns.indices.map { c in
      lines.reduce(columns[c].title.count) { width, line in
        if case .cells(let cells) = line, c < cells.count { return max(width, cells[c].count) }
        return width
      }
    }
    func line(_ cells: [String]) -> String {
      var parts: [String] = []
      for c in columns.indices {
        let cell = c < cells.count ? cells[c] : ""
        let pad = String(repeating: " ", count: widths[c] - cell.count)
        parts.append(columns[c].alignment == .left ? cell + pad : pad + cell)
      }
      // No trailing blanks from an empty last column.
      var text = parts.joined(separator: "  ")
      while text.last == " " { text.removeLast() }
      return text
    }
    var out = line(columns.map(\.title)) + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
    for l in lines {
      switch l {
      case .cells(let cells): out += line(cells) + "\n"
      case .note(let text): out += "  " + text + "\n"
      }
    }
    return out
  }
}

/// Fixed-point formatting without Foundation's locale.
public func fixed(_ value: Double, _ digits: Int) -> String {
  guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let rounded = (abs(value) * scale).rounded() / scale
  guard rounded < 9e15 else { return (value < 0 ? "-" : "") + String(format: "%.\(digits)f", abs(value)) }
  var text = String(Int(rounded))
  if digits > 0 {
    let fraction = Int(((rounded - rounded.rounded(.down)) * scale).rounded())
    let digitsText = String(fraction)
    text += "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
  }
  return (value < 0 && rounded != 0 ? "-" : "") + text
}

/// Scientific formatting for errors with one decimal, e.g. 3.1e-05. The
/// mantissa is rounded before the exponent is fixed, so 9.96e-5 prints as
/// 1.0e-04, not 10.0e-05.
public func scientific(_ value: Double) -> String {
  guard value.isFinite else { return value.isNaN ? "nan" : "inf" }
  if value == 0 { return "0" }
  var exponent = 0
  var mantissa = abs(value)
  while mantissa >= 10 { mantissa /= 10; exponent += 1 }
  while mantissa < 1 { mantissa *= 10; exponent -= 1 }
  mantissa = (mantissa * 10).rounded() / 10
  if mantissa >= 10 { mantissa /= 10; exponent += 1 }
  let sign = exponent < 0 ? "-" : "+"
  let e = abs(exponent)
  return (value < 0 ? "-" : "") + fixed(mantissa, 1) + "e" + sign + (e < 10 ? "0" : "") + String(e)
}
