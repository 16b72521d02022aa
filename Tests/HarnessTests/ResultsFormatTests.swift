import Foundation
import ConvCore
@testable import Harness
import Measurement
import XCTest

/// The JSON results `run --json` writes, read the way Google Benchmark's
/// tools read them, and `compare`'s verdicts on raw samples.
final class ResultsFormatTests: XCTestCase {
  func testRunWritesGoogleBenchmarkJSONThatCompareReads() throws {
    let dir = try CommandLine.temporaryDirectory()
    let json = dir.appendingPathComponent("samples.json").path
    let r = try CommandLine.run(["run", "--model", "resnet18", "--size", "32", "--classes", "10", "--backend", "naive,tiled-simd",
                                 "--repetitions", "3", "--warmup", "0", "--layers", "--no-check", "--json", json])
    XCTAssertEqual(r.status, 0, r.stderr)
    let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
    let context = try XCTUnwrap(root["context"] as? [String: Any])
    for key in ["date", "host_name", "executable", "num_cpus", "caches", "load_avg", "library_build_type"] {
      XCTAssertNotNil(context[key], "context.\(key)")
    }
    let ours = try XCTUnwrap(context["resnet_bench"] as? [String: Any])
    for key in ["fingerprint", "busy", "steal_fraction", "other_processes_fraction", "peak_gflops", "rounds", "sampling_seed", "model"] {
      XCTAssertNotNil(ours[key], "context.resnet_bench.\(key)")
    }
    let entries = try XCTUnwrap(root["benchmarks"] as? [[String: Any]])
    // What tools/gbench/report.py reads: name, time_unit, real_time, cpu_time, run_type, aggregate_name.
    for e in entries {
      for key in ["name", "run_name", "run_type", "time_unit", "real_time", "cpu_time", "repetitions", "threads", "iterations"] {
        XCTAssertNotNil(e[key], "\(e["name"] ?? "?").\(key)")
      }
      XCTAssertEqual(e["time_unit"] as? String, "ms")
    }
    let iterations = entries.filter { $0["run_type"] as? String == "iteration" }
    let network = iterations.filter { ($0["name"] as? String)?.hasSuffix("/tiled-simd/network") ?? false }
    XCTAssertEqual(network.compactMap { $0["repetition_index"] as? Int }.sorted(), [0, 1, 2])
    let aggregates = entries.filter { $0["run_type"] as? String == "aggregate" }
    XCTAssertEqual(Set(aggregates.compactMap { $0["aggregate_name"] as? String }), ["median", "mean", "stddev", "cv"])
    XCTAssertTrue(aggregates.contains { $0["name"] as? String == (network.first?["run_name"] as? String ?? "") + "_median" })
    // Per layer: 21 layers of ResNet-18 (20 convolutions and fc) for each of two candidates, plus the networks.
    XCTAssertEqual(Set(iterations.compactMap { $0["run_name"] as? String }).count, 2 * (21 + 1))

    let document = try GoogleBenchmarkJSON.load(json)
    XCTAssertEqual(document.series.count, 44)
    XCTAssertTrue(document.series.allSatisfy { $0.samples.count == 3 })
    let same = try CommandLine.run(["compare", json, json, "--threshold", "5"])
    XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
    XCTAssertTrue(same.stdout.contains("0 regression(s)"), same.stdout)
  }

  /// Folders of per-process files pair round by round: a machine that drifts
  /// between rounds (±6%) moves base and head alike and cancels; a planted
  /// 10% slowdown is a regression, an unchanged series unchanged, and a 10%
  /// slowdown whose rounds scatter ±40% inconclusive.
  func testComparePairsFoldersOfRoundsAndGivesVerdicts() throws {
    let drift = [1.00, 1.06, 0.97, 1.03, 0.94, 1.05, 0.98, 1.02, 0.96, 1.04]
    let scatter = [0.7, 1.4, 0.8, 1.3, 0.9, 1.25, 0.75, 1.35, 0.85, 1.2]
    func document(_ round: Int, head: Bool) -> GoogleBenchmarkJSON.Document {
      let d = drift[round], jitter = 1 + 0.002 * Double(round % 3)
      func series(_ name: String, _ seconds: Double) -> GoogleBenchmarkJSON.Series {
        .init(name: name, samples: [seconds, seconds * 1.001, seconds * 0.999], cpuSamples: [], fields: [:], flops: 0)
      }
      return .init(source: "round-\(round).json", series: [
        series("steady", 0.010 * d * (head ? jitter : 1)),
        series("planted", 0.020 * d * (head ? 1.10 * jitter : 1)),
        series("noisy", 0.030 * d * (head ? 1.10 * scatter[round] : 1)),
      ], fingerprint: "same", busy: false, context: [:])
    }
    let result = try SampleComparison.compare(base: (0..<10).map { document($0, head: false) },
                                              current: (0..<10).map { document($0, head: true) }, threshold: 0.05)
    XCTAssertTrue(result.method.hasPrefix("paired"))
    let verdicts = Dictionary(uniqueKeysWithValues: result.rows.map { ($0.name, $0.verdict) })
    let detail = "\(result.rows.map { ($0.name, $0.estimate.ratio, $0.estimate.low, $0.estimate.high) })"
    XCTAssertEqual(verdicts["steady"], .unchanged, detail)
    XCTAssertEqual(verdicts["planted"], .regression, detail)
    XCTAssertEqual(verdicts["noisy"], .inconclusive, detail)
  }

  /// Processes that took turns round by round pair inside the pair: each
  /// round's state (a machine that switches between a fast and a 30% slower
  /// speed from round to round) hits both sides of that round, so each pair
  /// gives the 10% slowdown back, and the pairs together establish it. Files
  /// whose rounds do not match are compared by their medians instead, and
  /// the method says so.
  func testLockstepPairsRoundByRound() throws {
    var rng = SeededGenerator(seed: 5)
    let pairs = 16, rounds = 6
    var base: [GoogleBenchmarkJSON.Document] = [], head: [GoogleBenchmarkJSON.Document] = []
    for p in 0..<pairs {  // process pairs
      // Each round's machine state: fast (1.0) or slow (1.3), shared by both sides of the round.
      let states = (0..<rounds).map { _ in rng.next() % 2 == 0 ? 1.0 : 1.3 }
      let b = (0..<rounds).map { r in 0.050 * states[r] * (1 + 0.004 * rng.normal()) }
      let h = (0..<rounds).map { r in b[r] * 1.10 * (1 + 0.004 * rng.normal()) }
      for (side, values) in [(0, b), (1, h)] {
        let doc = GoogleBenchmarkJSON.Document(
          source: "round-\(p).json", series: [.init(name: "net", samples: values, cpuSamples: [], fields: [:], flops: 0)],
          fingerprint: "same", busy: false, context: ["lockstep": "1"])
        if side == 0 { base.append(doc) } else { head.append(doc) }
      }
    }
    let result = try SampleComparison.compare(base: base, current: head, threshold: 0.05)
    XCTAssertTrue(result.method.contains("lockstep"), result.method)
    XCTAssertEqual(result.rows.first?.verdict, .regression, "\(result.rows.map(\.estimate))")
    XCTAssertEqual(result.rows.first?.estimate.ratio ?? 0, 1.10, accuracy: 0.01)
    // A file of a pair that did not run in step (fewer rounds) falls back to the medians.
    var short = head
    short[0].series[0].samples.removeLast()
    let fallback = try SampleComparison.compare(base: base, current: short, threshold: 0.05)
    XCTAssertTrue(fallback.method.hasPrefix("paired per-process medians"), fallback.method)
  }

  /// The gate's count of quiet round pairs is the number `compare` keeps:
  /// a pair is out when either side of it was busy; sides of different
  /// lengths cannot pair and are unusable input.
  func testQuietPairsCountsWhatCompareKeeps() throws {
    func doc(_ round: Int, busy: Bool) -> GoogleBenchmarkJSON.Document {
      .init(source: "round-\(round).json", series: [.init(name: "net", samples: [0.01, 0.011], cpuSamples: [], fields: [:], flops: 0)],
            fingerprint: "same", busy: busy, context: [:])
    }
    let baseBusy = [false, true, false, false, false, true, false, false]
    let headBusy = [false, false, true, false, false, true, false, false]
    let base = baseBusy.enumerated().map { doc($0.offset, busy: $0.element) }
    let head = headBusy.enumerated().map { doc($0.offset, busy: $0.element) }
    XCTAssertEqual(try SampleComparison.quietPairs(base: base, current: head), 5)
    let result = try SampleComparison.compare(base: base, current: head, threshold: 0.05)
    XCTAssertEqual(result.excludedBusy, 3)
    XCTAssertEqual(result.rows.first?.estimate.pairs, 5)
    XCTAssertThrowsError(try SampleComparison.quietPairs(base: base, current: Array(head.dropLast()))) { error in
      XCTAssertTrue("\(error)".contains("8 and 7"), "\(error)")
    }
  }

  func testMalformedResultsFilesGiveOneLineErrors() {
    let cases: [(String, String)] = [
      ("[]", "the top level is not an object"),
      ("{}", "no 'benchmarks' array"),
      ("{\"benchmarks\": [1]}", "benchmarks[0] is not an object"),
      ("{\"benchmarks\": [{\"name\": \"a\", \"real_time\": 1}]}", "no known 'time_unit'"),
      ("{\"benchmarks\": [{\"name\": \"a\", \"time_unit\": \"ms\", \"real_time\": -1}]}", "non-negative finite 'real_time'"),
      ("{\"benchmarks\": [{\"name\": \"a\", \"time_unit\": \"ms\", \"real_time\": 1, \"run_type\": \"x\"}]}", "run_type 'x'"),
      ("{\"benchmarks\": [{\"name\": \"a\", \"time_unit\": \"ms\", \"real_time\": 1, \"repetition_index\": 1e300}]}", ""),
      ("{\"benchmarks\": []}", "no benchmark with iterations"),
      ("{\"benchmarks\": [{\"name\": \"a\", \"time_unit\": \"ms\", \"real_time\": 1, \"run_type\": \"aggregate\", \"aggregate_name\": \"mean\"}]}",
       "no benchmark with iterations"),
    ]
    for (text, expected) in cases {
      do {
        let d = try GoogleBenchmarkJSON.decode(Data(text.utf8), source: "r.json")
        XCTAssertTrue(expected.isEmpty, "\(text) was accepted: \(d.series)")
      } catch {
        XCTAssertFalse(expected.isEmpty, "\(text): \(error)")
        XCTAssertTrue("\(error)".hasPrefix("r.json: ") && "\(error)".contains(expected), "\(text): \(error)")
        XCTAssertFalse("\(error)".contains("\n"))
      }
    }
  }

  func testSeveralPlansRunSideBySideNamedAfterTheirFiles() throws {
    let dir = try CommandLine.temporaryDirectory()
    let a = dir.appendingPathComponent("fast.json").path, b = dir.appendingPathComponent("other.json").path
    for path in [a, b] {
      let t = try CommandLine.run(["tune", "--model", "resnet18", "--size", "32", "--classes", "10", "--backend", "tiled-simd,naive",
                                   "--budget", "3", "--repetitions", "3", "--output", path])
      XCTAssertEqual(t.status, 0, t.stderr)
    }
    let csv = dir.appendingPathComponent("run.csv").path
    let r = try CommandLine.run(["run", "--model", "resnet18", "--size", "32", "--classes", "10", "--backend", "tiled-simd",
                                 "--plan", a, "--plan", b, "--repetitions", "2", "--csv", csv])
    XCTAssertEqual(r.status, 0, r.stderr)
    let candidates = try BenchmarkRecord.load(csv).filter { $0["scope"] == "network" }.map { $0["candidate"] }
    XCTAssertEqual(candidates, ["tiled-simd", "fast", "other"])
    // The candidates judged against the first plan, round by round.
    let ratios = r.stdout.split(separator: "\n").first { $0.hasPrefix("÷ fast, round by round") }
    XCTAssertNotNil(ratios, r.stdout)
    XCTAssertTrue(ratios?.contains("tiled-simd ") == true && ratios?.contains("other ") == true, "\(ratios ?? "")")
  }
}

