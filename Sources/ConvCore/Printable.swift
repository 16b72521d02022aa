/// Text from a file as it may stand in a one-line error message.
///
/// Every loader quotes what it read (a column name, a tensor name, a
/// backend name) in its errors; a name that holds a line break would
/// otherwise split the one line the command promises into several.
/// Control characters (a quoted CSV field or a JSON string may hold line
/// breaks) are written as `\u{…}` escapes.
public func printable(_ text: String) -> String {
  var out = ""
  for scalar in text.unicodeScalars {
    if scalar.value < 0x20 || scalar.value == 0x7f {
      out += "\\u{\(String(scalar.value, radix: 16))}"
    } else {
      out.unicodeScalars.append(scalar)
    }
  }
  return out
}
