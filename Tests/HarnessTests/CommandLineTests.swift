import Harness
import Foundation
import XCTest

/// The CLI as a user meets it: exit codes, one-line errors, end-to-end runs.
final class CommandLineTests: XCTestCase {
  func testUsageAndInputErrorsExitTwoWithOneLine() throws {
    let dir = try CommandLine.temporaryDirectory()
    let truncated = dir.appendingPathComponent("truncated.safetensors")
    try Data([16, 0, 0, 0, 0, 0, 0, 0, 123]).write(to: truncated)
    let cases: [([String], String)] = [
      (["conv", "mb1ic64ih56oc64kh3zz"], "unknown field at 'zz'"),
      (["conv", "mb1ic8ih8oc8kh3", "--backend", "fastest"], "unknown backend 'fastest'"),
      (["conv", "mb1ic8ih8oc8kh3", "--threads", "0"], "--threads must be between 1 and 1024"),
      (["conv", "mb1ic8ih8oc8kh3", "--config", "rows"], "malformed --config"),
      // 2^32 input values: refused before anything is allocated.
      (["conv", "mb1ic4096ih1024iw1024oc4096kh1kw1", "--check"], "needs about"),
      (["layers", "--model", "resnet51"], "unknown model 'resnet51'"),
      (["layers", "--variant", "v2"], "unknown variant 'v2'"),
      (["layers", "--size", "8"], "--size must be between 32"),
      (["run", "--model", "resnet18", "--size", "32", "--weights", truncated.path], "truncated at byte 9"),
      (["run", "--model", "resnet18", "--size", "32", "--weights", dir.appendingPathComponent("absent").path], "cannot read"),
      (["run", "--model", "resnet18", "--size", "32", "--backends", "naive,nope"], "unknown backend 'nope'"),
      (["run", "--repetitions", "0"], "--repetitions must be between"),
      (["run", "--warm-each=-1"], "--warm-each must be between"),
      (["conv", "mb1ic8ih8oc8kh3", "--warm-each", "101"], "--warm-each must be between"),
      (["run", "--batch", "4096", "--size", "1024"], "needs about"),
      (["tune", "--budget=-1"], "--budget must be between"),
      (["tune", "--model", "resnet18", "--size", "32", "--against", dir.appendingPathComponent("absent").path], "cannot read"),
      (["compare", "a.csv"], "Missing expected argument"),
      (["nosuchcommand"], "nosuchcommand"),
    ]
    for (arguments, expected) in cases {
      let r = try CommandLine.run(arguments)
      XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains(expected), "\(arguments) printed '\(r.stderr)', expected '\(expected)'")
      XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(arguments) printed more than one line: \(r.stderr)")
      XCTAssertTrue(r.stdout.isEmpty, "\(arguments) printed data on an error: \(r.stdout)")
    }
  }

  func testHelpOnEverySubcommand() throws {
    for sub in ["layers", "conv", "tune", "run", "soak", "compare", "report", "export-weights", "env"] {
      let r = try CommandLine.run([sub, "--help"])
      XCTAssertEqual(r.status, 0, sub)
      XCTAssertTrue(r.stdout.contains("USAGE"), sub)
      XCTAssertTrue(r.stdout.contains("Example"), "\(sub) --help has no example")
    }
  }

  func testSoakKeepsMemoryFlatAndResultsBitIdentical() throws {
    let r = try CommandLine.run(["soak", "--model", "resnet18", "--size", "32", "--backend", "winograd", "--iterations", "50"])
    XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    XCTAssertTrue(r.stdout.contains("bit-identical"), r.stdout)
    XCTAssertEqual(try CommandLine.run(["soak", "--iterations", "1"]).status, 2)
  }

  func testLayersTotals() throws {
    let r = try CommandLine.run(["layers", "--model", "resnet50"])
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(r.stdout.contains("25557032 parameters, 4.089 GMAC"), r.stdout)
    XCTAssertTrue(r.stdout.contains("layer1.0.downsample.0"))
  }

  func testMissingLibraryMakesOnlyThatBackendUnavailable() throws {
    let env = ["RESNET_BENCH_BLIS_LIBRARY": "/nonexistent/libblis.so.4"]
    let r = try CommandLine.run(["env"], environment: env)
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(r.stdout.contains("backend im2col-blis: unavailable"), r.stdout)
    XCTAssertTrue(r.stdout.contains("/nonexistent/libblis.so.4"), r.stdout)
    XCTAssertTrue(r.stdout.contains("backend naive: available"))
    let conv = try CommandLine.run(["conv", "mb1ic3ih9oc4kh3ph1", "--backend", "all", "--check", "--repetitions", "1"], environment: env)
    XCTAssertEqual(conv.status, 0, conv.stderr)
    XCTAssertTrue(conv.stdout.contains("im2col-blis") && conv.stdout.contains("unsupported: BLIS not loadable"), conv.stdout)
  }

  func testWeightsExportedThenLoadedGiveTheSeededResult() throws {
    let dir = try CommandLine.temporaryDirectory()
    let weights = dir.appendingPathComponent("r18.safetensors").path
    let exported = try CommandLine.run(["export-weights", "--model", "resnet18", "--classes", "10", "--seed", "5", weights])
    XCTAssertEqual(exported.status, 0, exported.stderr)
    let logitsA = dir.appendingPathComponent("a.npy").path, logitsB = dir.appendingPathComponent("b.npy").path
    let common = ["run", "--model", "resnet18", "--classes", "10", "--size", "64", "--backends", "naive", "--repetitions", "1", "--seed", "5"]
    let a = try CommandLine.run(common + ["--dump-logits", logitsA])
    let b = try CommandLine.run(common + ["--weights", weights, "--dump-logits", logitsB])
    XCTAssertEqual(a.status, 0, a.stderr)
    XCTAssertEqual(b.status, 0, b.stderr)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: logitsA)), try Data(contentsOf: URL(fileURLWithPath: logitsB)))
    // A checkpoint for another class count is refused with the tensor named.
    let wrong = try CommandLine.run(["run", "--model", "resnet18", "--size", "64", "--weights", weights])
    XCTAssertEqual(wrong.status, 2)
    XCTAssertTrue(wrong.stderr.contains("'fc.weight' has shape [10, 512], expected [1000, 512]"), wrong.stderr)
  }

  func testEveryBackendAgreesOnASmallNetwork() throws {
    let r = try CommandLine.run(["run", "--model", "resnet18", "--size", "64", "--backends", "all", "--repetitions", "2"])
    XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    XCTAssertFalse(r.stdout.contains("FAIL"), r.stdout)
    XCTAssertTrue(r.stdout.contains("naive"))
  }
}

/// tune → plan.json → run --plan, and the ways a plan can be unusable.
final class PlanCommandLineTests: XCTestCase {
  /// SIGINT in the middle of `tune --output FILE` leaves FILE as it was
  /// (here, an older plan) and no partial file beside it.
  func testInterruptedTuneLeavesTheOutputFileUntouched() throws {
    let dir = try CommandLine.temporaryDirectory()
    let plan = dir.appendingPathComponent("plan.json")
    try Data("an older plan".utf8).write(to: plan)
    let process = Process()
    process.executableURL = try CommandLine.binary
    // Large enough that the search is still running when interrupted.
    process.arguments = ["tune", "--model", "resnet18", "--size", "224", "--budget", "120", "--output", plan.path]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    var progress = ""
    while !progress.contains("shape 2/") {
      let chunk = err.fileHandleForReading.availableData
      if chunk.isEmpty { break }  // the process ended
      progress += String(decoding: chunk, as: UTF8.self)
    }
    XCTAssertTrue(progress.contains("shape 2/"), "tune ended before it could be interrupted: \(progress)")
    process.interrupt()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal)
    XCTAssertEqual(process.terminationStatus, SIGINT)
    XCTAssertEqual(try String(contentsOf: plan, encoding: .utf8), "an older plan")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["plan.json"])
  }

  /// SIGINT while the CLI is writing its output — the temporary exists, the
  /// rename has not happened — leaves the old file whole and removes the
  /// temporary. ResNet-152's weights (240 MB) take long enough to write that
  /// the temporary can be seen and the signal sent before the rename; a
  /// non-atomic write would leave a truncated file, one without the signal
  /// handler a stray temporary.
  func testSigintDuringTheWriteLeavesTheOldFileAndNoTemporary() throws {
    let dir = try CommandLine.temporaryDirectory()
    let weights = dir.appendingPathComponent("w.safetensors")
    try Data("older weights".utf8).write(to: weights)
    var interruptedWhileWriting = 0
    for _ in 0..<3 where interruptedWhileWriting == 0 {
      let process = Process()
      process.executableURL = try CommandLine.binary
      process.arguments = ["export-weights", "--model", "resnet152", weights.path]
      process.standardError = FileHandle.nullDevice
      process.standardOutput = FileHandle.nullDevice
      try process.run()
      var sawTemporary = false
      let deadline = Date().addingTimeInterval(60)
      while process.isRunning && Date() < deadline {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        if names.contains(where: { $0.contains(".partial-") }) {
          sawTemporary = true
          process.interrupt()
          break
        }
        usleep(200)
      }
      process.waitUntilExit()
      guard sawTemporary && process.terminationReason == .uncaughtSignal else {
        // The write finished before the signal: start again from the old file.
        try Data("older weights".utf8).write(to: weights)
        continue
      }
      interruptedWhileWriting += 1
      XCTAssertEqual(process.terminationStatus, SIGINT)
      XCTAssertEqual(try String(contentsOf: weights, encoding: .utf8), "older weights", "the old file was replaced or damaged")
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["w.safetensors"], "a temporary was left behind")
    }
    XCTAssertEqual(interruptedWhileWriting, 1, "never caught the CLI while its temporary existed")
  }

  func testTuneThenRunWithThePlanAndCSVComparedWithItself() throws {
    let dir = try CommandLine.temporaryDirectory()
    let plan = dir.appendingPathComponent("plan.json").path
    let common = ["--model", "resnet18", "--size", "32", "--threads", "2"]
    let tune = try CommandLine.run(["tune"] + common + ["--budget", "3", "--output", plan])
    XCTAssertEqual(tune.status, 0, tune.stderr)
    XCTAssertTrue(tune.stderr.contains("shape 1/"), "progress goes to stderr")
    XCTAssertTrue(tune.stdout.isEmpty)
    XCTAssertTrue(try String(contentsOfFile: plan, encoding: .utf8).contains("\"coldWeights\" : true"), "tune times cold weights by default")
    // A previous plan timed with the other weight temperature is re-measured, not reused.
    let warmPlan = dir.appendingPathComponent("warm.json").path
    let warm = try CommandLine.run(["tune"] + common + ["--budget", "3", "--warm-weights", "--plan", plan, "--output", warmPlan])
    XCTAssertEqual(warm.status, 0, warm.stderr)
    XCTAssertTrue(warm.stderr.contains("timed with cold weights; re-measuring every shape"), warm.stderr)
    XCTAssertTrue(try String(contentsOfFile: warmPlan, encoding: .utf8).contains("\"coldWeights\" : false"))
    // The plan as an incumbent: timed beside the re-tune inside the network, and the decision said.
    let against = try CommandLine.run(["tune"] + common + ["--budget", "3", "--warm-weights", "--against", warmPlan,
                                                           "--output", dir.appendingPathComponent("against.json").path])
    XCTAssertEqual(against.status, 0, against.stderr)
    XCTAssertTrue(against.stderr.contains("÷ the incumbent plan, round by round"), against.stderr)
    XCTAssertTrue(try String(contentsOfFile: dir.appendingPathComponent("against.json").path, encoding: .utf8)
      .contains("\"incumbent plan\""), "the check's figures name the incumbent")
    // A re-tune on the naive backend alone is far slower than the incumbent, which is written instead.
    let keptPath = dir.appendingPathComponent("kept.json").path
    let kept = try CommandLine.run(["tune"] + common + ["--budget", "3", "--backends", "naive", "--against", warmPlan,
                                                        "--output", keptPath])
    XCTAssertEqual(kept.status, 0, kept.stderr)
    XCTAssertTrue(kept.stderr.contains("the incumbent is faster and is kept"), kept.stderr)
    func shapeChoices(_ path: String) throws -> [String] {
      let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
      let shapes = try XCTUnwrap(object?["shapes"] as? [[String: Any]])
      return shapes.map { "\($0["descriptor"] ?? "") \($0["backend"] ?? "") \($0["config"] ?? "")" }
    }
    XCTAssertEqual(try shapeChoices(keptPath), try shapeChoices(warmPlan))
    // (The incumbent is not what a naive-only tune writes: some of its shapes are on other backends.)
    XCTAssertTrue(try shapeChoices(warmPlan).contains { !$0.contains(" naive ") })
    // An incumbent for another model is refused by name.
    let wrong = try CommandLine.run(["tune", "--model", "resnet34", "--size", "32", "--threads", "2", "--budget", "3",
                                     "--against", warmPlan])
    XCTAssertEqual(wrong.status, 2, wrong.stderr)
    XCTAssertTrue(wrong.stderr.contains("--against") && wrong.stderr.contains("resnet18"), wrong.stderr)
    let cold = try CommandLine.run(["conv", "mb1ic16ih8iw8oc24kh3kw3ph1", "--backend", "tiled-simd,winograd",
                                    "--cold-weights", "--repetitions", "2", "--check"])
    XCTAssertEqual(cold.status, 0, cold.stdout + cold.stderr)
    let csv = dir.appendingPathComponent("run.csv").path
    let run = try CommandLine.run(["run"] + common + ["--plan", plan, "--repetitions", "3", "--csv", csv, "--layers"])
    XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
    XCTAssertTrue(run.stdout.contains("plan "), run.stdout)
    // --layers on two threads says how busy they were: a share, never above all of them.
    let busyLines = run.stdout.split(separator: "\n").filter { $0.contains(": threads busy ") }
    XCTAssertTrue(busyLines.contains { $0.hasPrefix("plan: threads busy ") }, run.stdout)
    for line in busyLines {
      let share = line.split(separator: " ").first { $0.hasSuffix("%") }.flatMap { Double($0.dropLast()) }
      XCTAssertNotNil(share, String(line))
      XCTAssertTrue((1...100.5).contains(share ?? -1), String(line))
    }
    let table = try CSVTable.load(csv)
    let candidates = Set(table.rows.map { $0["candidate"]! })
    XCTAssertTrue(candidates.isSuperset(of: ["naive", "plan"]), "\(candidates)")
    XCTAssertTrue(table.rows.contains { $0["scope"] == "layer" && $0["layer"] == "layer1.0.conv1" })
    XCTAssertTrue(table.rows.allSatisfy { $0["agreement"] != "fail" })
    let same = try CommandLine.run(["compare", csv, csv])
    XCTAssertEqual(same.status, 0, same.stdout + same.stderr)

    // The plan's shapes are for 32×32: a run at another size is refused.
    let otherSize = try CommandLine.run(["run", "--model", "resnet18", "--size", "64", "--plan", plan])
    XCTAssertEqual(otherSize.status, 2)
    XCTAssertTrue(otherSize.stderr.contains("input size 32"), otherSize.stderr)
    // Another thread count: a warning, or an error with --strict.
    let warned = try CommandLine.run(["run", "--model", "resnet18", "--size", "32", "--threads", "1", "--plan", plan,
                                      "--backends", "naive", "--repetitions", "1", "--no-check"])
    XCTAssertEqual(warned.status, 0, warned.stderr)
    XCTAssertTrue(warned.stderr.contains("warning: plan"), warned.stderr)
    let strict = try CommandLine.run(["run", "--model", "resnet18", "--size", "32", "--threads", "1", "--plan", plan, "--strict"])
    XCTAssertEqual(strict.status, 2)

    let text = try String(contentsOfFile: plan, encoding: .utf8)
    let broken: [(String, String)] = [
      (String(text.prefix(text.count / 3)), "malformed or truncated JSON"),
      (text.replacingOccurrences(of: "\"backend\" : \"", with: "\"backend\" : \"warp-", options: [], range: text.range(of: "\"shapes\"").map { $0.lowerBound..<text.endIndex }), "unknown backend 'warp-"),
    ]
    for (content, expected) in broken {
      let bad = dir.appendingPathComponent("bad.json")
      try Data(content.utf8).write(to: bad)
      let r = try CommandLine.run(["run"] + common + ["--plan", bad.path])
      XCTAssertEqual(r.status, 2, r.stderr)
      XCTAssertTrue(r.stderr.contains(expected), "got \(r.stderr), expected \(expected)")
      XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
  }
}
