import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import Measurement

struct ConvCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "conv",
    abstract: "Time convolutions (a benchdnn descriptor, or every problem of a benchdnn batch file) on each chosen backend; optionally check them against the Float64 reference.",
    discussion: """
      Weights, bias, input and residual are seeded. Backends are timed in
      interleaved, shuffled rounds; the im2col backends' bare library sgemm on
      the identical M×N×K runs in the same rounds. The timed epilogue is bias
      (and --residual, --relu) as in the network; --check runs every backend
      into a NaN-filled output with the epilogue fully on and fully off and
      exits 1 if any exceeds its tolerance.

      --batch FILE reads benchdnn's input-file syntax: one problem per line,
      '#' comments, '--mb=N', '--batch=OTHER' includes; 3-D problems are listed
      as unsupported. It ends with a summary (computed / failed / unsupported).

      Examples:
        resnet-bench conv mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1 --backend all --check
        resnet-bench conv mb1ic256ih56oc64kh1 --backend im2col-blis --config rows=0 --threads 1
        resnet-bench conv --batch shapes_resnet_50 --check --csv shapes.csv
        resnet-bench conv mb1ic512ih7iw7oc512kh3kw3ph1 --backend tiled-simd,winograd --cold-weights
      """)

  @Argument(help: "benchdnn descriptor, e.g. mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1 (omitted mb means 2, as in benchdnn).")
  var descriptor: String?

  @Option(help: "A benchdnn batch file of problems, instead of one descriptor.")
  var batch: String?

  @OptionGroup var backends: BackendOptions

  @Option(help: "Backend configuration (key=value,…); default: each backend's default.")
  var config: String?

  @OptionGroup var threading: ThreadOptions
  @OptionGroup var repetitions: RepetitionOptions
  @OptionGroup var output: OutputOptions

  @Flag(help: "Compare each backend's output with the Float64 reference (epilogue on and off, NaN-filled output).")
  var check = false

  @Flag(help: "Add a residual tensor before the activation in the timed runs.")
  var residual = false

  @Flag(help: "Apply ReLU in the timed runs' epilogue.")
  var relu = false

  @Option(help: "Seed of weights and input.")
  var seed: UInt64 = 0

  @Flag(help: "Evict each backend's packed weights from every cache before each timed run, as they arrive in a whole network (benchdnn's --cold-cache=wei).")
  var coldWeights = false

  func validate() throws {
    if let config, BackendConfig(parsing: config) == nil { throw ValidationError("malformed --config '\(config)'; expected key=value,…") }
    if (descriptor == nil) == (batch == nil) { throw ValidationError("give a descriptor or --batch FILE (one of them)") }
  }

  func run() throws {
    let pool = threading.configure()
    let chosen = try backends.resolve()
    let wantedConfig = config.flatMap(BackendConfig.init(parsing:))
    let problems: [ConvSweep.Item]
    var ignored: [String] = []
    if let batch {
      let file = try BenchdnnBatch.load(batch)
      problems = try ConvSweep.items(file)
      ignored = file.ignoredOptions.map { "\($0.option) (\($0.file):\($0.line))" }
    } else {
      problems = [.init(problem: try ConvProblem(descriptor: descriptor!), source: nil, unsupported: nil)]
    }
    let peak = FMAPeak.measure(pool: pool)
    var sweep = ConvSweep(peak: peak, check: check)
    for (i, item) in problems.enumerated() {
      guard let problem = item.problem else {
        sweep.add(item, result: nil)
        continue
      }
      if problems.count > 1 { note("problem \(i + 1)/\(problems.count) \(problem.description)") }
      var request = ConvRunRequest(
        problem: problem, backends: chosen, config: wantedConfig, residual: residual, relu: relu, check: check,
        policy: repetitions.policy(), seed: seed, pool: pool)
      request.coldWeights = coldWeights
      let result = try ConvRun.execute(request)
      sweep.add(item, result: result)
      if problems.count == 1 || !output.dataOnStdout { output.show(sweep.table(for: sweep.results.count - 1)) }
    }
    if problems.count > 1 { output.show(sweep.summary(ignoredOptions: ignored)) }
    let records = sweep.records(threads: pool.threadCount)
    try output.write(csv: CSV.line(ConvSweep.columns) + records.map { CSV.line($0) }.joined(), rows: records.count)
    if output.json != nil {
      let fp = MachineFingerprint.current(threads: pool.threadCount)
      try output.write(json: GoogleBenchmarkJSON.encode(sweep.series(threads: pool.threadCount), context: .init(
        date: ISO8601DateFormatter().string(from: Date()), executable: CommandLine.arguments.first ?? "resnet-bench",
        threads: pool.threadCount, fingerprint: fp, load: sweep.load(peak: peak), peak: peak, runId: RunReport.newRunId(),
        gitCommit: RunReport.gitCommit(), fields: ["command": "conv"], rounds: sweep.results.last?.result?.record?.rounds ?? [],
        seed: repetitions.orderSeed)))
    }
    if sweep.failed { throw ExitCode(1) }
  }
}

import Tuning
