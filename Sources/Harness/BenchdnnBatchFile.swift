import ConvCore
import Foundation

// A reader of benchdnn's convolution input files ("batch files"), the files
// `benchdnn --conv --batch=FILE` takes. The syntax follows benchdnn's own
// documentation in oneDNN's tree:
//   tests/benchdnn/doc/knobs_common.md     --batch, --reset, the common options
//   tests/benchdnn/doc/driver_conv.md      the convolution options and descriptor
//   tests/benchdnn/doc/benchdnn_general_info.md  options form a state that applies
//                                          to the descriptors after them
//   tests/benchdnn/doc/benchdnn_input_files_naming_convention.md  shapes_/set_/test_ files
// and the behaviour of benchdnn's file reader where the documents are silent
// (comments, line continuation, option state across included files).

/// One problem line of a benchdnn batch file, as written, with the options in force.
public struct BenchdnnProblem: Sendable, Equatable {
  public var descriptor: String        // the descriptor text as written (may contain `_`), without the options
  public var minibatch: Int?           // the --mb in force (nil: none, the descriptor's own mb applies; --mb=0 also means none)
  public var file: String              // path of the file that holds it
  public var line: Int                 // 1-based
  /// The name's `*N`, 1 when absent. Shapes files list a layer shape once and
  /// write how many times it occurs in the network as `*N` at the end of its
  /// name (`n"resnet_50:res2a_branch2b*3"` stands for res2a, res2b and res2c's
  /// branch2b, whose own lines are commented out). benchdnn itself runs the
  /// line once and keeps `*N` as part of the name; a per-network total
  /// weights the problem by this count.
  public var repeatCount: Int
  public var isThreeDimensional: Bool  // has id/kd/od/sd/pd/dd: reported as unsupported, not an error
}

public struct BenchdnnBatch: Sendable, Equatable {
  public var problems: [BenchdnnProblem]
  /// Options seen that cannot change the result here (e.g. --mode, --stag, --alg), each once, with where first seen.
  public var ignoredOptions: [IgnoredOption]
  /// `option` is the option's name as written (`--stag`, `-v`), whatever its
  /// value, at its first occurrence.
  public struct IgnoredOption: Sendable, Equatable { public var option: String; public var file: String; public var line: Int }

  /// Reads `path` and every file it includes.
  public static func load(_ path: String) throws -> BenchdnnBatch {
    let text: String
    do { text = try readTextFile(path) } catch let failure as ReadFailure {
      throw BatchFileError(failure.message(path))
    }
    return try parse(text, source: path, read: readTextFile)
  }

  /// Parses `text` as if read from `source`; `read` returns an included file's text (for tests).
  public static func parse(_ text: String, source: String, read: (String) throws -> String) throws -> BenchdnnBatch {
    var reader = BatchReader()
    try reader.readFile(text, path: source, chain: [source], read: read)
    return BenchdnnBatch(problems: reader.problems, ignoredOptions: reader.ignored)
  }
}

/// A batch file that cannot be used: one line, `file:line: problem`.
public struct BatchFileError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public var description: String { message }
  init(_ message: String) { self.message = message }
}

// MARK: - Limits

extension BenchdnnBatch {
  /// How many files may be open inside one another; a longer chain is almost
  /// certainly a mistake, and the bound keeps the recursion off the stack's end.
  static let maxIncludeDepth = 32
  /// Files read in all, repeats included (test_conv_ci reads shapes_basic ten
  /// times). Bounds a file that includes another twice, which includes the
  /// next twice, and so on: 32 levels of that would read 2^32 files.
  static let maxFilesRead = 10_000
  /// Largest file read; benchdnn's own input files are a few hundred KiB at most.
  static let maxFileBytes = 16 << 20
  /// Problems in all, includes and repeats counted: benchdnn's largest input
  /// sets hold a few thousand; the bound keeps a small file that includes a
  /// large one thousands of times from filling memory.
  static let maxProblems = 100_000
  /// Largest `*N`, the same bound as a descriptor's dimensions.
  static let maxRepeatCount = 1 << 20

  /// An ASCII digit; `Character.isNumber` would also take other scripts' digits.
  static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
}

// MARK: - Reading files

/// Why a file could not be read; the including line adds where it was named.
enum ReadFailure: Error {
  case unreadable, notText, tooLarge

  func message(_ path: String) -> String {
    switch self {
    case .unreadable: return "cannot read \(path)"
    case .notText: return "\(path) is not UTF-8 text"
    case .tooLarge: return "\(path) is larger than \(BenchdnnBatch.maxFileBytes >> 20) MiB"
    }
  }
}

/// Reads at most `maxFileBytes` + 1 bytes, so that a device such as /dev/zero
/// named as an include is refused instead of read until memory runs out.
func readTextFile(_ path: String) throws -> String {
  guard let handle = FileHandle(forReadingAtPath: path) else { throw ReadFailure.unreadable }
  defer { try? handle.close() }
  let data: Data
  do { data = try handle.read(upToCount: BenchdnnBatch.maxFileBytes + 1) ?? Data() } catch { throw ReadFailure.unreadable }
  if data.count > BenchdnnBatch.maxFileBytes { throw ReadFailure.tooLarge }
  guard let text = String(data: data, encoding: .utf8) else { throw ReadFailure.notText }
  return text
}

// MARK: - Tokens

/// A whitespace-separated word of a batch file and the line it starts on.
struct BatchToken {
  var text: String
  var line: Int
}

extension BenchdnnBatch {
  /// Splits a file into words the way benchdnn's reader does: any whitespace
  /// separates (so one line may hold several options and descriptors); a
  /// word that *starts* with `#` drops the rest of its line, so `#` inside a
  /// word, such as a name `n"a#b"`, is ordinary text; a word ending in `\`
  /// (or a lone `\`) is joined to the next word with nothing between, which is
  /// how test_conv_ci writes one long `--attr-post-ops=` list over several lines.
  static func tokens(_ text: String, file: String) throws -> [BatchToken] {
    var tokens: [BatchToken] = []
    var continuing = false
    var line = 1
    var word = String.UnicodeScalarView()
    var inComment = false

    func finishWord() throws {
      guard !word.isEmpty else { return }
      var text = String(word)
      var start = line
      word = String.UnicodeScalarView()
      if continuing {
        guard let previous = tokens.popLast() else {
          throw BatchFileError("\(file):\(line): a line continuation '\\' with nothing before it to continue")
        }
        text = previous.text + text
        start = previous.line
      }
      continuing = text.unicodeScalars.last == "\\"
      if continuing { text.unicodeScalars.removeLast() }
      // A lone `\` leaves nothing to keep: the word before it is the one continued.
      if !text.isEmpty { tokens.append(BatchToken(text: text, line: start)) }
    }

    // Scalars, not Characters: "\r\n" is one Character and would hide the line end.
    for scalar in text.unicodeScalars {
      if scalar == "\n" {
        try finishWord()
        inComment = false
        line += 1
      } else if inComment {
        continue
      } else if scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\u{0B}" || scalar == "\u{0C}" {
        try finishWord()
      } else if scalar == "#" && word.isEmpty {
        inComment = true
      } else {
        word.append(scalar)
      }
    }
    try finishWord()
    return tokens
  }
}

// MARK: - Options

extension BenchdnnBatch {
  /// What this tool does with each option benchdnn's convolution driver takes.
  enum OptionKind {
    /// Accepted only with these values (compared case-insensitively); `items`
    /// splits a value into the values it lists.
    case refusedUnless(accepted: Set<String>, items: Items)
    /// Cannot change the result here; listed in `ignoredOptions`.
    case ignored
  }

  /// How an option's value lists several values: benchdnn runs every problem
  /// once per listed value (knobs_common.md, driver_conv.md).
  enum Items { case commaList, commaAndColonList }

  /// The accepted values of the options that change what is computed. This
  /// tool computes one thing: a forward f32 convolution with bias (the
  /// inference pass of a network) and nothing after it. So:
  /// - `--dir`: every forward direction gives the same output. `FWD_B` and
  ///   `FWD_I` are forward passes with bias (training and inference differ in
  ///   what the library keeps for a backward pass, not in the output); `FWD_D`
  ///   leaves the bias out, one addition per output value, and is timed here
  ///   with it. Backward directions compute gradients and are refused.
  /// - `--dt` (src:wei:dst), `--cfg` (its older spelling; `f32_full` and
  ///   `f32_wino` are f32 with another filling or algorithm) and `--bia-dt`
  ///   (`undef`: no bias, as `FWD_D`): only f32.
  /// - attributes that change values (post-ops, scales, zero points, dropout,
  ///   rounding): only empty, benchdnn's default of none. `--attr-fpmath` only
  ///   `strict`, `--attr-acc-mode` only `strict` or `f32`.
  static let optionKinds: [String: OptionKind] = {
    let noAttribute = OptionKind.refusedUnless(accepted: [""], items: .commaList)
    var kinds: [String: OptionKind] = [
      "--dir": .refusedUnless(accepted: ["", "fwd_b", "fwd_d", "fwd_i"], items: .commaList),
      "--dt": .refusedUnless(accepted: ["", "f32"], items: .commaAndColonList),
      "--cfg": .refusedUnless(accepted: ["", "f32", "f32_full", "f32_wino"], items: .commaList),
      "--bia-dt": .refusedUnless(accepted: ["", "f32", "undef"], items: .commaList),
      "--attr-post-ops": noAttribute, "--attr-scales": noAttribute, "--attr-oscale": noAttribute,
      "--attr-zero-points": noAttribute, "--attr-dropout": noAttribute, "--attr-rounding-mode": noAttribute,
      "--attr-fpmath": .refusedUnless(accepted: ["", "strict", "strict:true", "strict:false"], items: .commaList),
      "--attr-acc-mode": .refusedUnless(accepted: ["", "strict", "f32"], items: .commaList),
    ]
    // Memory layouts, algorithm choice, implementation filters, threading,
    // scratchpad ownership, determinism, and how benchdnn measures, checks
    // and prints: none changes the numbers a forward f32 convolution gives.
    // `--match` and `--start` select problems by benchdnn's own problem text
    // and numbering, which this reader does not reproduce; they are listed so
    // a caller can see that no selection was made.
    let ignored = [
      "--stag", "--wtag", "--dtag", "--alg", "--match", "--impl", "--skip-impl",
      "--global-impl", "--global-skip-impl", "--attr-scratchpad", "--attr-deterministic",
      "--ctx-init", "--ctx-exe", "--perf-template", "--mode", "--mode-modifier",
      "--verbose", "--engine", "--start", "--max-ms-per-prb", "--fix-times-per-prb",
      "--repeats-per-prb", "--num-streams", "--canonical", "--mem-check", "--memory-kind",
      "--stream-kind", "--cpu-isa-hints", "--allow-enum-tags-only", "--attr-same-pd-check",
      "--check-ref-impl", "--cold-cache", "--fast-ref", "--fast-ref-gpu", "--summary",
      "--allow-unimpl",  // older benchdnn: whether "unimplemented" counts as a failure
    ]
    for name in ignored { kinds[name] = .ignored }
    return kinds
  }()

  /// The values an option's text lists, lower-cased for comparison.
  static func items(_ value: String, _ items: Items) -> [String] {
    let lists = value.lowercased().split(separator: ",", omittingEmptySubsequences: false)
    switch items {
    case .commaList: return lists.map(String.init)
    case .commaAndColonList: return lists.flatMap { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }
  }

  /// `--mb=N`: a whole number of at most `ConvProblem.maxDimension`; 0 and an
  /// empty value are benchdnn's "no override".
  static func minibatch(_ value: String, at place: String) throws -> Int? {
    if value.isEmpty { return nil }
    if value.contains(",") {
      throw BatchFileError("\(place): --mb=\(value): lists of minibatches are not supported; give one value")
    }
    // At most 7 digits before converting, so that no text can overflow Int.
    guard value.unicodeScalars.allSatisfy(isDigit), value.unicodeScalars.count <= 7,
          let n = Int(value), n <= ConvProblem.maxDimension else {
      throw BatchFileError("\(place): --mb=\(value): not a minibatch (a whole number from 0 to \(ConvProblem.maxDimension))")
    }
    return n == 0 ? nil : n
  }
}

// MARK: - Descriptors

extension BenchdnnBatch {
  /// The name part of a descriptor and the text outside it. benchdnn reads
  /// the name from the first `n` to the end of the word (no field key holds an
  /// `n`); a quoted name `n"…"` ends at its closing quote, as the project's
  /// descriptor parser reads it.
  static func splitName(_ descriptor: String) -> (fields: String, name: String?) {
    let scalars = Array(descriptor.unicodeScalars)
    guard let n = scalars.firstIndex(of: "n") else { return (descriptor, nil) }
    var fields = String.UnicodeScalarView(scalars[..<n])
    let rest = scalars[(n + 1)...]
    guard rest.first == "\"" else { return (String(fields), String(String.UnicodeScalarView(rest))) }
    let quoted = rest.dropFirst()
    guard let close = quoted.firstIndex(of: "\"") else { return (String(fields), String(String.UnicodeScalarView(quoted))) }
    fields.append(contentsOf: scalars[(close + 1)...])
    return (String(fields), String(String.UnicodeScalarView(quoted[..<close])))
  }

  /// The `*N` that ends a name, 1 without one.
  static func repeatCount(name: String, at place: String) throws -> Int {
    let scalars = Array(name.unicodeScalars)
    guard let star = scalars.firstIndex(of: "*") else { return 1 }
    let digits = scalars[(star + 1)...]
    guard !digits.isEmpty, digits.allSatisfy(isDigit) else {
      throw BatchFileError("\(place): name '\(name)': '*' must be followed by a repeat count that ends the name (*N)")
    }
    // Leading zeros do not change the value; without them, more than 7 digits is over the bound.
    let significant = digits.drop(while: { $0 == "0" })
    guard !significant.isEmpty else { throw BatchFileError("\(place): name '\(name)': repeat count *0 must be at least 1") }
    let count = significant.count > 7 ? Int.max : significant.reduce(0) { $0 * 10 + Int($1.value - 48) }
    guard count <= maxRepeatCount else {
      throw BatchFileError("\(place): name '\(name)': repeat count *\(String(String.UnicodeScalarView(significant))) is larger than \(maxRepeatCount)")
    }
    return count
  }

  /// Whether the fields name a depth: `id`, `kd`, `od`, `sd`, `pd` or `dd`
  /// followed by a number. Looked for as text, without reading the fields;
  /// in a well-formed descriptor two letters followed by a digit are a key.
  static func hasDepthField(_ fields: String) -> Bool {
    let depthKeys: Set<String> = ["id", "kd", "od", "sd", "pd", "dd"]
    let scalars = Array(fields.unicodeScalars)
    guard scalars.count >= 3 else { return false }
    for i in 0...(scalars.count - 3) where isDigit(scalars[i + 2]) {
      if depthKeys.contains(String(String.UnicodeScalarView(scalars[i...(i + 1)]))) { return true }
    }
    return false
  }
}

// MARK: - The reader

/// The state benchdnn keeps while it reads: options persist from the line
/// that sets them to the next `--reset`, across included files in both
/// directions (an included file's `--mb` stays in force after it returns),
/// because benchdnn hands every file's words to the same driver state.
struct BatchReader {
  var problems: [BenchdnnProblem] = []
  var ignored: [BenchdnnBatch.IgnoredOption] = []
  private var ignoredNames: Set<String> = []
  private var minibatch: Int?
  private var filesRead = 1

  /// `chain` holds the files being read, outermost first, `path` last.
  mutating func readFile(_ text: String, path: String, chain: [String], read: (String) throws -> String) throws {
    for token in try BenchdnnBatch.tokens(text, file: path) {
      let place = "\(path):\(token.line)"
      if token.text.hasPrefix("-") {
        try option(token.text, path: path, line: token.line, chain: chain, read: read)
      } else {
        let (fields, name) = BenchdnnBatch.splitName(token.text)
        guard problems.count < BenchdnnBatch.maxProblems else {
          throw BatchFileError("\(place): more than \(BenchdnnBatch.maxProblems) problems in all (with the files it includes)")
        }
        problems.append(BenchdnnProblem(
          descriptor: token.text, minibatch: minibatch, file: path, line: token.line,
          repeatCount: try name.map { try BenchdnnBatch.repeatCount(name: $0, at: place) } ?? 1,
          isThreeDimensional: BenchdnnBatch.hasDepthField(fields)))
      }
    }
  }

  private mutating func option(_ text: String, path: String, line: Int, chain: [String], read: (String) throws -> String) throws {
    let place = "\(path):\(line)"
    if text == "--reset" { minibatch = nil; return }
    // benchdnn's short verbose form, `-v2`.
    if text.hasPrefix("-v"), text.unicodeScalars.count > 2, text.unicodeScalars.dropFirst(2).allSatisfy(BenchdnnBatch.isDigit) {
      return noteIgnored("-v", path: path, line: line)
    }
    let name: String
    let value: String?
    if let equals = text.firstIndex(of: "=") {
      name = String(text[..<equals])
      value = String(text[text.index(after: equals)...])
    } else {
      name = text
      value = nil
    }
    let known = name == "--batch" || name == "--mb" || BenchdnnBatch.optionKinds[name] != nil
    guard text.hasPrefix("--"), known else { throw BatchFileError("\(place): unknown option '\(text)'") }
    guard let value else { throw BatchFileError("\(place): option '\(name)' needs a value (\(name)=…)") }
    switch name {
    case "--batch": try include(value, path: path, line: line, chain: chain, read: read)
    case "--mb": minibatch = try BenchdnnBatch.minibatch(value, at: place)
    default:
      if case .refusedUnless(let accepted, let items)? = BenchdnnBatch.optionKinds[name],
         !BenchdnnBatch.items(value, items).allSatisfy(accepted.contains) {
        throw BatchFileError("\(place): option '\(text)' changes the computation and is not supported")
      }
      noteIgnored(name, path: path, line: line)
    }
  }

  private mutating func noteIgnored(_ name: String, path: String, line: Int) {
    if ignoredNames.insert(name).inserted { ignored.append(.init(option: name, file: path, line: line)) }
  }

  /// `--batch=FILE`: a relative name is looked up in the including file's
  /// folder. benchdnn also tries the working directory and its own inputs
  /// folder (knobs_common.md); the including file's folder alone makes the
  /// result independent of where the tool runs.
  private mutating func include(_ name: String, path: String, line: Int, chain: [String], read: (String) throws -> String) throws {
    let place = "\(path):\(line)"
    guard !name.isEmpty else { throw BatchFileError("\(place): --batch= names no file") }
    let target = Self.resolve(name, from: path)
    let key = Self.normalized(target)
    if let first = chain.firstIndex(where: { Self.normalized($0) == key }) {
      let cycle = (chain[first...] + [target]).joined(separator: " → ")
      throw BatchFileError("\(place): --batch=\(name) includes itself (\(cycle))")
    }
    guard chain.count < BenchdnnBatch.maxIncludeDepth else {
      throw BatchFileError("\(place): --batch=\(name): files nested more than \(BenchdnnBatch.maxIncludeDepth) deep")
    }
    guard filesRead < BenchdnnBatch.maxFilesRead else {
      throw BatchFileError("\(place): --batch=\(name): more than \(BenchdnnBatch.maxFilesRead) files read in all")
    }
    filesRead += 1
    let text: String
    do { text = try read(target) } catch {
      throw BatchFileError("\(place): --batch=\(name): \((error as? ReadFailure ?? .unreadable).message(target))")
    }
    try readFile(text, path: target, chain: chain + [target], read: read)
  }

  /// `name` in the folder of `file`; an absolute `name` as it is.
  static func resolve(_ name: String, from file: String) -> String {
    if name.hasPrefix("/") { return name }
    guard let slash = file.lastIndex(of: "/") else { return name }
    return String(file[...slash]) + name
  }

  /// A path with `.`, empty and `dir/..` parts removed, to compare two
  /// spellings of one file. Used only for that: reading uses the path as
  /// joined, so a symbolic link followed by `..` still means what the system says.
  static func normalized(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/") where part != "." {
      if part == "..", let last = parts.last, last != ".." { parts.removeLast() } else { parts.append(part) }
    }
    return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
  }
}
