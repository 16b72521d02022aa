import ConvCore
import Foundation

/// RFC 4180 comma-separated values: fields holding a comma, a double quote or
/// a line break are quoted, quotes doubled; records end with CRLF. The reader
/// also accepts bare LF line ends.
public enum CSV {
  public struct ParseError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
  }

  public static func escape(_ field: String) -> String {
    // Scalars, not Characters: "\r\n" is one Character and would match neither.
    guard field.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
    // Doubled scalar by scalar: a quote followed by a combining mark is one
    // Character, and a Character-level replace would miss it (found by fuzzing).
    var quoted = String.UnicodeScalarView()
    quoted.append("\"")
    for scalar in field.unicodeScalars {
      quoted.append(scalar)
      if scalar == "\"" { quoted.append("\"") }
    }
    quoted.append("\"")
    return String(quoted)
  }

  public static func line(_ fields: [String]) -> String { fields.map(escape).joined(separator: ",") + "\r\n" }

  /// Parses a whole document into records (no header handling).
  public static func parse(_ text: String) throws -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field = ""
    var inQuotes = false
    var fieldStarted = false
    var closedQuote = false
    var line = 1
    var chars = Array(text.unicodeScalars)[...]
    while let c = chars.popFirst() {
      if inQuotes {
        if c == "\"" {
          if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { inQuotes = false; closedQuote = true }
        } else {
          if c == "\n" { line += 1 }
          field.unicodeScalars.append(c)
        }
        continue
      }
      switch c {
      case "\"":
        guard !fieldStarted else { throw ParseError(message: "line \(line): a quote inside an unquoted field") }
        inQuotes = true
        fieldStarted = true
      case ",":
        record.append(field); field = ""; fieldStarted = false; closedQuote = false
      case "\r":
        guard chars.first == "\n" else { throw ParseError(message: "line \(line): a carriage return not followed by a line feed") }
      case "\n":
        record.append(field); field = ""; fieldStarted = false; closedQuote = false
        records.append(record); record = []
        line += 1
      default:
        if closedQuote { throw ParseError(message: "line \(line): text after a closing quote") }
        field.unicodeScalars.append(c)
        fieldStarted = true
      }
    }
    if inQuotes { throw ParseError(message: "line \(line): unterminated quoted field") }
    if fieldStarted || !record.isEmpty { record.append(field); records.append(record) }
    return records
  }
}

/// A table with a header, every record of the header's width.
public struct CSVTable {
  public var header: [String]
  public var rows: [[String: String]]

  public init(text: String, source: String) throws {
    let records: [[String]]
    do { records = try CSV.parse(text) } catch let e as CSV.ParseError { throw CSV.ParseError(message: "\(source): \(e.message)") }
    guard let header = records.first, !header.isEmpty else { throw CSV.ParseError(message: "\(source): empty file, no header") }
    var seen = Set<String>()
    for name in header where !seen.insert(name).inserted {
      throw CSV.ParseError(message: "\(source): column '\(printable(name))' appears twice in the header")
    }
    self.header = header
    rows = []
    for (i, record) in records.dropFirst().enumerated() {
      guard record.count == header.count else {
        throw CSV.ParseError(message: "\(source): record \(i + 2) has \(record.count) fields, the header has \(header.count)")
      }
      rows.append(Dictionary(uniqueKeysWithValues: zip(header, record)))
    }
  }

  public static func load(_ path: String) throws -> CSVTable {
    guard let data = FileManager.default.contents(atPath: path) else { throw CSV.ParseError(message: "\(path): cannot read") }
    guard let text = String(data: data, encoding: .utf8) else { throw CSV.ParseError(message: "\(path): not UTF-8 text") }
    return try CSVTable(text: text, source: path)
  }
}

