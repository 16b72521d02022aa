import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import Measurement
import ResNet
import Tuning

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Time full ResNet inference on each backend and plan side by side and check that all agree with the Float64 reference.",
    discussion: """
      After a warm-up, candidates (backends and plans) run in interleaved
      rounds, each round in a freshly shuffled order (--order-seed). Each
      candidate's logits are compared with those of the Float64-reference
      network; a candidate beyond its tolerance or with a different top-5 is
      named, with the first layer where it diverges, and the command exits 1.
      Every sample is kept: --json writes them in Google Benchmark's format.
      A run on a busy machine (steal time, other processes, a peak far below
      expectation) is marked busy in the table, CSV and JSON.

      Examples:
        resnet-bench run --plan auto
        resnet-bench run --backend naive --repetitions 3
        resnet-bench run --plan a.json --plan b.json --backend tiled-simd --json samples.json
        resnet-bench run --model resnet18 --size 112 --dump-logits logits.npy
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var threading: ThreadOptions
  @OptionGroup var backends: BackendOptions
  @OptionGroup var repetitions: RepetitionOptions
  @OptionGroup var plans: PlanOptions
  @OptionGroup var output: OutputOptions

  @Flag(help: "Also report every layer's time on every candidate, its share and % of peak (and per-layer CSV/JSON rows).")
  var layers = false

  @Flag(help: "With --layers: also time every layer alone (as `conv` would) and show, per candidate, what each loses inside the network, with the bytes it touches.")
  var isolated = false

  @Option(help: "Identifier stored in every CSV row (default: time and process id).")
  var runId: String?

  @Option(help: "Seed of the weights and input image, when not read from files.")
  var seed: UInt64 = 0

  @Option(help: "Weights file (safetensors, torchvision state_dict keys, OIHW). Default: seeded weights.")
  var weights: String?

  @Option(help: "Input image(s): float32 .npy, NHWC [batch, size, size, 3]. Default: a seeded image.")
  var input: String?

  @Option(help: "Write the first candidate's logits to this .npy file ([batch, classes], float32).")
  var dumpLogits: String?

  @Flag(help: "Skip the Float64-reference check (faster; nothing is verified).")
  var noCheck = false

  @Option(help: ArgumentHelp("Take turns with another process round by round: wait for a line on PREFIX.go before each round, write one to PREFIX.done after it; the final turn (peak, check, output) lasts until exit. Named pipes; scripts/ci-regression.sh drives two builds this way.",
                             valueName: "prefix"))
  var lockstep: String?

  func run() throws {
    let pool = threading.configure()
    let net = try model.build()
    var request = NetworkRunRequest(
      model: net, backends: try backends.resolve(), plans: plans.resolve(for: net, threads: pool.threadCount),
      strictPlans: plans.strict, weightsFile: weights, inputFile: input, seed: seed, policy: repetitions.policy(lockstep: try lockstep.map { try Lockstep(prefix: $0) }),
      check: !noCheck, pool: pool)
    request.isolated = isolated && layers
    request.threadUse = layers
    let result = try NetworkRun.execute(request, note: note)
    let report = RunReport(result, runId: runId ?? RunReport.newRunId(), timestamp: ISO8601DateFormatter().string(from: Date()),
                           gitCommit: RunReport.gitCommit())
    if layers { output.show(RunTables.layers(result)) }
    output.show(RunTables.summary(result))
    let records = report.records(result, layers: layers)
    try output.write(csv: BenchmarkRecord.header() + records.map { $0.line() }.joined(), rows: records.count)
    if output.json != nil {
      var context = report.jsonContext(result)
      // compare pairs such files round by round, not by their medians.
      if lockstep != nil { context.fields["lockstep"] = "1" }
      try output.write(json: GoogleBenchmarkJSON.encode(GoogleBenchmarkJSON.series(result, layers: layers), context: context))
    }
    if let first = result.timings.first, let dumpLogits {
      try NpyFile.write(NpyFile.Array(shape: [net.batch, net.classes], values: first.logits), to: URL(fileURLWithPath: dumpLogits))
      note("wrote \(first.name)'s logits to \(dumpLogits)")
    }
    for (i, a) in result.agreements.enumerated() {
      guard let a, !a.passed else { continue }
      note("DISAGREEMENT: \(result.timings[i].name): logits max error \(scientific(a.maxError)) (tolerance \(scientific(a.tolerance))), top-5 \(a.top5Equal ? "same" : "different"); first diverging layer: \(a.divergingLayer ?? "?")"
           + (a.divergingLayerError.map { " (error \(scientific($0)))" } ?? ""))
    }
    if result.failed { throw ExitCode(1) }
  }
}
