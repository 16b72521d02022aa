import ConvCore
import Foundation
import Measurement

/// `conv` over one problem or a whole benchdnn batch file: the results, the
/// per-problem tables, the closing summary and the CSV/JSON rows.
public struct ConvSweep {
  /// One problem of the sweep, or a line that cannot be computed here.
  public struct Item {
    public var problem: ConvProblem?
    /// `file:line` for problems from a batch file.
    public var source: String?
    /// Why the line is not computed at all (a 3-D problem).
    public var unsupported: String?
    /// benchdnn's `*N`: how often the shape occurs in its network.
    public var repeatCount: Int = 1

    public init(problem: ConvProblem?, source: String?, unsupported: String?, repeatCount: Int = 1) {
      self.problem = problem
      self.source = source
      self.unsupported = unsupported
      self.repeatCount = repeatCount
    }
  }

  /// The problems of a batch file, `--mb` applied; a descriptor the parser
  /// refuses is an error naming the file and line, a 3-D one is unsupported.
  public static func items(_ batch: BenchdnnBatch) throws -> [Item] {
    try batch.problems.map { entry in
      let source = "\(entry.file):\(entry.line)"
      if entry.isThreeDimensional {
        return Item(problem: nil, source: source, unsupported: "3-D convolution (only 2-D is supported)", repeatCount: entry.repeatCount)
      }
      var problem: ConvProblem
      do { problem = try ConvProblem(descriptor: entry.descriptor) } catch let e as DescriptorError {
        throw BatchFileError("\(source): \(e.message)")
      }
      if let mb = entry.minibatch {
        problem.batch = mb
        if let why = problem.invalidReason { throw BatchFileError("\(source): with --mb=\(mb): \(why)") }
      }
      return Item(problem: problem, source: source, unsupported: nil, repeatCount: entry.repeatCount)
    }
  }

  public let peak: FMAPeak.Result
  public let check: Bool
  public private(set) var results: [(item: Item, result: ConvRunResult?)] = []

  public init(peak: FMAPeak.Result, check: Bool) {
    self.peak = peak
    self.check = check
  }

  public mutating func add(_ item: Item, result: ConvRunResult?) { results.append((item, result)) }

  /// Some computed problem failed its check.
  public var failed: Bool { results.contains { $0.result?.failed ?? false } }

  /// The worst load over every problem, and the peak's verdict.
  public func load(peak: FMAPeak.Result) -> MachineLoad {
    var l = MachineLoad.worst(results.compactMap { $0.result?.load })
      ?? MachineLoad(stealFraction: 0, otherProcessesFraction: 0, loadAverage: MachineLoad.loadAverage(), seconds: 0, peakSuspect: false)
    l.peakSuspect = l.peakSuspect || peak.suspect
    return l
  }

  /// The table of problem `index`.
  public func table(for index: Int) -> String {
    let (item, result) = results[index]
    guard let result, let p = item.problem else {
      return "\(item.source ?? "?"): unsupported: \(item.unsupported ?? "?")\n"
    }
    var head = "\(p.description): \(fixed(Double(p.flops) / 1e9, 3)) GFLOP, \(peak.threads) threads, FMA peak \(peak.summary)"
    if let source = item.source { head = "\(source) " + head }
    var columns: [TextTable.Column] = [
      .init("backend", .left), .init("config", .left), .init("median ms", .right), .init("p10 ms", .right),
      .init("p90 ms", .right), .init("GFLOP/s", .right), .init("% peak", .right),
    ]
    if check { columns += [.init("max error", .right), .init("tolerance", .right), .init("check", .left)] }
    var table = TextTable(columns)
    for row in result.rows {
      guard let s = row.summary else {
        table.add([row.backend, "-"])
        table.note("unsupported: \(row.unsupported ?? "?")")
        continue
      }
      let rate = Double(p.flops) / s.median / 1e9
      var cells = [row.backend, row.config ?? "", fixed(s.median * 1e3, 3), fixed(s.p10 * 1e3, 3), fixed(s.p90 * 1e3, 3),
                   fixed(rate, 1), fixed(100 * rate / peak.allThreads, 1)]
      if let c = row.check { cells += [scientific(c.error), scientific(c.tolerance), c.passed ? "ok" : "FAIL"] }
      table.add(cells)
      if let c = row.check, !c.passed { table.note("check failed: \(c.summary)") }
      if let bare = row.bareGemm, !bare.samples.isEmpty {
        let t = TimingSummary(bare.samples).median
        let bareRate = Double(2 * bare.shape.m * bare.shape.n * bare.shape.k * bare.shape.groups) / t / 1e9
        let groups = bare.shape.groups > 1 ? " ×\(bare.shape.groups) groups" : ""
        table.note("bare sgemm \(bare.shape.m)x\(bare.shape.n)x\(bare.shape.k)\(groups): \(fixed(t * 1e3, 3)) ms, "
                   + "\(fixed(bareRate, 1)) GFLOP/s (\(fixed(100 * bareRate / peak.allThreads, 1))% of peak); conv ÷ bare \(fixed(100 * rate / bareRate, 1))%")
      }
      if !row.phases.isEmpty {
        table.note("phases (summed over threads): " + row.phases.map { "\($0.name) \(fixed($0.seconds * 1e3, 3)) ms" }.joined(separator: ", "))
      }
    }
    return head + "\n" + table.render() + (result.load.isBusy ? "machine: \(result.load.summary)\n" : "")
  }

  /// Counts of problems and (problem, backend) rows, and the reasons backends declined.
  public func summary(ignoredOptions: [String]) -> String {
    var computed = 0, failedRows = 0, unsupportedRows = 0, passedRows = 0
    var problemsComputed = 0, problemsUnsupported = 0, problemsFailed = 0
    var reasons: [String: Int] = [:]
    for (item, result) in results {
      guard let result else {
        problemsUnsupported += 1
        reasons[item.unsupported ?? "?", default: 0] += 1
        continue
      }
      var anyComputed = false, anyFailed = false
      for row in result.rows {
        if let why = row.unsupported {
          unsupportedRows += 1
          // Reasons are counted by their general part: "needs a 3×3 kernel with stride 1", not the shape's numbers.
          reasons["\(row.backend): " + (why.components(separatedBy: " (").first ?? why), default: 0] += 1
          continue
        }
        computed += 1
        anyComputed = true
        if let c = row.check { if c.passed { passedRows += 1 } else { failedRows += 1; anyFailed = true } }
      }
      if anyComputed { problemsComputed += 1 } else { problemsUnsupported += 1 }
      if anyFailed { problemsFailed += 1 }
    }
    var out = "\(results.count) problems: \(problemsComputed) computed, \(problemsFailed) failed a check, \(problemsUnsupported) unsupported by every backend\n"
    out += "\(computed + unsupportedRows) problem × backend rows: \(computed) computed"
      + (check ? " (\(passedRows) passed, \(failedRows) FAILED)" : " (not checked)") + ", \(unsupportedRows) unsupported\n"
    for (reason, count) in reasons.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { out += "  \(count)× \(reason)\n" }
    if !ignoredOptions.isEmpty { out += "ignored options (they cannot change the result here): \(ignoredOptions.joined(separator: ", "))\n" }
    return out
  }

  /// CSV columns of `conv --csv`.
  public static let columns = [
    "schema", "source", "descriptor", "name", "repeat_count", "threads", "backend", "config", "status",
    "repetitions", "median_ms", "p10_ms", "p90_ms", "gflops", "peak_pct", "max_error", "tolerance",
    "bare_gemm_ms", "bare_gemm_gflops", "reason", "busy",
  ]
  public static let schemaVersion = "1"

  public func records(threads: Int) -> [[String]] {
    var out: [[String]] = []
    for (item, result) in results {
      let base = [Self.schemaVersion, item.source ?? "", item.problem?.descriptor ?? "", item.problem?.name ?? "",
                  "\(item.repeatCount)", "\(threads)"]
      let busy = (result?.load.isBusy ?? false) || peak.suspect ? "1" : "0"
      guard let result, let p = item.problem else {
        out.append(base + ["", "", "unsupported", "", "", "", "", "", "", "", "", "", "", item.unsupported ?? "", busy])
        continue
      }
      for row in result.rows {
        guard let s = row.summary else {
          out.append(base + [row.backend, "", "unsupported", "", "", "", "", "", "", "", "", "", "", row.unsupported ?? "", busy])
          continue
        }
        let rate = Double(p.flops) / s.median / 1e9
        var bareMs = "", bareRate = ""
        if let bare = row.bareGemm, !bare.samples.isEmpty {
          let t = TimingSummary(bare.samples).median
          bareMs = String(t * 1e3)
          bareRate = String(Double(2 * bare.shape.m * bare.shape.n * bare.shape.k * bare.shape.groups) / t / 1e9)
        }
        let status = row.check.map { $0.passed ? "ok" : "fail" } ?? "unchecked"
        out.append(base + [row.backend, row.config ?? "", status, "\(s.count)", String(s.median * 1e3), String(s.p10 * 1e3),
                           String(s.p90 * 1e3), String(rate), String(100 * rate / peak.allThreads),
                           row.check.map { String($0.error) } ?? "", row.check.map { String($0.tolerance) } ?? "",
                           bareMs, bareRate, row.check.flatMap { $0.passed ? nil : $0.summary } ?? "", busy])
      }
    }
    return out
  }

  /// Every timed row's samples, for `--json`.
  public func series(threads: Int) -> [GoogleBenchmarkJSON.Series] {
    var out: [GoogleBenchmarkJSON.Series] = []
    for (item, result) in results {
      guard let result, let p = item.problem else { continue }
      for row in result.rows where !row.samples.isEmpty {
        out.append(.init(name: "conv/\(p.descriptor)/threads:\(threads)/\(row.backend)", samples: row.samples,
                         cpuSamples: row.cpuSamples,
                         fields: ["candidate": row.backend, "scope": "layer", "descriptor": p.descriptor, "layer_config": row.config ?? ""],
                         flops: Double(p.flops)))
        if let bare = row.bareGemm, !bare.samples.isEmpty {
          out.append(.init(name: "conv/\(p.descriptor)/threads:\(threads)/\(row.backend)/bare-sgemm", samples: bare.samples,
                           cpuSamples: [], fields: ["candidate": row.backend + " bare sgemm", "scope": "layer", "descriptor": p.descriptor],
                           flops: Double(2 * bare.shape.m * bare.shape.n * bare.shape.k * bare.shape.groups)))
        }
      }
    }
    return out
  }
}
