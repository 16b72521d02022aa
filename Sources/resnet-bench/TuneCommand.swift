import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import ResNet
import Tuning
import Harness

struct TuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tune",
    abstract: "Measure every backend × configuration on every distinct layer shape and write the fastest correct choice as a plan (JSON).",
    discussion: """
      The plan goes to stdout (or --output FILE, written atomically); progress
      goes to stderr. Layers with the same shape are tuned once. A candidate
      whose error against the Float64 reference exceeds its tolerance (or
      --max-error) is rejected; one whose first timing is 2× slower than the
      best so far is dropped without further timing.

      Examples:
        resnet-bench tune > plan.json
        resnet-bench tune --model resnet18 --size 112 --budget 20 --output plan18.json
        resnet-bench tune --plan plan.json --output plan.json   (measure only missing shapes)
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var threading: ThreadOptions

  @Option(help: "Total search time in seconds.")
  var budget: Double = 120

  @Option(help: "Comma-separated backends to consider, or 'all'.")
  var backends: String = "all"

  @Option(help: "Accuracy budget: reject candidates whose error exceeds this (default: each backend's own tolerance).")
  var maxError: Double?

  @Option(help: "Timed runs per surviving candidate.")
  var repetitions: Int = 7

  @Option(help: "A previous plan: shapes it already holds are kept when it was made on this machine, build and thread count.")
  var plan: String?

  @Option(help: "Write the plan to this file (atomically) instead of stdout.")
  var output: String?

  func validate() throws {
    guard budget > 0 && budget <= 86_400 else { throw ValidationError("--budget must be between 0 and 86400 seconds (got \(budget))") }
    guard repetitions >= 1 && repetitions <= 1000 else { throw ValidationError("--repetitions must be between 1 and 1000 (got \(repetitions))") }
    if let maxError, !(maxError > 0) { throw ValidationError("--max-error must be positive (got \(maxError))") }
  }

  func run() throws {
    let pool = threading.configure()
    let net = try model.build()
    var options = TuningOptions(backends: try BackendRegistry.resolve(backends))
    options.budgetSeconds = budget
    options.maxError = maxError
    options.repetitions = repetitions
    let previous = try plan.map { try Plan.load(from: URL(fileURLWithPath: $0)) }
    if let previous, previous.model != net.name || previous.variant != net.variant.rawValue || previous.batch != net.batch
      || previous.inputSize != net.inputSize || previous.classes != net.classes {
      throw InputError("--plan \(plan!) is for \(previous.model) \(previous.variant), batch \(previous.batch), size \(previous.inputSize), \(previous.classes) classes; this tune is for \(net.name) \(net.variant.rawValue), batch \(net.batch), size \(net.inputSize), \(net.classes) classes")
    }
    try MemoryBudget.check(net, engines: 1)
    let fingerprint = MachineFingerprint.current(threads: pool.threadCount)
    note("tuning \(net.distinctShapes.count) shapes of \(net.name) \(net.variant.rawValue) with \(pool.threadCount) threads, budget \(Int(budget)) s")
    let result = Tuner(model: net, options: options, pool: pool, progress: { note($0) }).tune(previous: previous, fingerprint: fingerprint)
    let data = try result.encoded() + Data("\n".utf8)
    if let output {
      try AtomicFile.write(data, to: URL(fileURLWithPath: output))
      note("wrote \(output) (\(Int(result.elapsedSeconds)) s)")
    } else {
      FileHandle.standardOutput.write(data)
    }
  }
}
