import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import ResNet
import Tuning

struct TuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tune",
    abstract: "Measure every backend × configuration on every distinct layer shape and write the fastest correct choice as a plan (JSON).",
    discussion: """
      The plan goes to stdout (or --output FILE, written atomically); progress
      goes to stderr. Layers with the same shape are tuned once. Every
      candidate runs into a NaN-filled output and is checked against the
      Float64 reference with the epilogue on and off; one beyond its tolerance
      (or --max-error) is rejected. The accepted ones are screened (dropped
      when 2× slower than the best), then timed in interleaved, shuffled
      rounds. A candidate whose ratio to the fastest has an interval reaching
      within 1% of no difference is marked 'tied'; among tied candidates the
      choice is deterministic (a backend's default configuration first, then
      registry order), so re-tuning reproduces the plan where measurements
      cannot tell candidates apart.

      Each timed run starts with the candidate's packed weights evicted from
      every cache, as they arrive inside a whole network (ResNet-50's weights
      are several times the last-level cache); --warm-weights times them as
      the previous run left them.

      Examples:
        resnet-bench tune > plan.json
        resnet-bench tune --model resnet18 --size 112 --budget 20 --output plan18.json
        resnet-bench tune --plan plan.json --output plan.json   (measure only missing shapes)
        resnet-bench tune --against plan.json --output new.json   (keep plan.json if it runs faster)

      --against PLAN re-measures every shape, then times PLAN beside the new
      choices in the in-network check; when the new plan is slower there (the
      95% interval of its ratio to PLAN above 1), PLAN is written instead, so
      a re-tune on a busy host does not replace a faster plan.
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var threading: ThreadOptions
  @OptionGroup var backends: BackendOptions

  @Option(help: "Total search time in seconds.")
  var budget: Double = 120

  @Option(help: "Accuracy budget: reject candidates whose error exceeds this (default: each backend's own tolerance).")
  var maxError: Double?

  @Option(help: "Interleaved timed rounds per shape.")
  var repetitions: Int = 9

  @Option(help: "Seed of the weights, inputs and round order.")
  var seed: UInt64 = 0

  @Option(help: "A previous plan: shapes it already holds are kept when it was made on this machine, build and thread count.")
  var plan: String?

  @Option(help: "An incumbent plan for this model, machine and thread count, timed beside the new choices inside the network and written instead of them when it is faster.")
  var against: String?

  @Option(help: "Write the plan to this file (atomically) instead of stdout.")
  var output: String?

  @Flag(help: "Time candidates with their weights left in cache from the previous run, instead of evicted before each run as they are inside a network.")
  var warmWeights = false

  func validate() throws {
    guard budget > 0 && budget <= 86_400 else { throw ValidationError("--budget must be between 0 and 86400 seconds (got \(budget))") }
    guard repetitions >= 1 && repetitions <= RepetitionOptions.maxRepetitions else {
      throw ValidationError("--repetitions must be between 1 and \(RepetitionOptions.maxRepetitions) (got \(repetitions))")
    }
    if let maxError, !(maxError > 0) { throw ValidationError("--max-error must be positive (got \(maxError))") }
  }

  func run() throws {
    let pool = threading.configure()
    let net = try model.build()
    var options = TuningOptions(backends: try backends.resolve())
    options.budgetSeconds = budget
    options.maxError = maxError
    options.repetitions = repetitions
    options.seed = seed
    options.coldWeights = !warmWeights
    let fingerprint = MachineFingerprint.current(threads: pool.threadCount)
    let previous = try plan.map { try Plan.load(from: URL(fileURLWithPath: $0)) }
    if let previous, case .incompatible(let why) = previous.compatibility(with: net, fingerprint: fingerprint) {
      throw InputError("--plan \(plan!): \(why)")
    }
    let incumbent = try against.map { try Plan.load(from: URL(fileURLWithPath: $0)) }
    if let incumbent {
      switch incumbent.compatibility(with: net, fingerprint: fingerprint) {
      case .incompatible(let why), .otherMachine(let why): throw InputError("--against \(against!): \(why)")
      case .compatible: break
      }
    }
    try MemoryBudget.check(net, engines: 1 + options.backends.count + (incumbent == nil ? 0 : 1))
    note("tuning \(net.distinctShapes.count) shapes of \(net.name) \(net.variant.rawValue) with \(pool.threadCount) threads, budget \(Int(budget)) s")
    let result = Tuner(model: net, options: options, pool: pool, progress: { note($0) }).tune(previous: previous, incumbent: incumbent, fingerprint: fingerprint)
    if let load = result.load, load.isBusy { note("warning: the machine was busy while tuning: \(load.summary)") }
    let data = try result.encoded() + Data("\n".utf8)
    if let output {
      try AtomicFile.write(data, to: URL(fileURLWithPath: output))
      note("wrote \(output) (\(Int(result.elapsedSeconds)) s)")
    } else {
      FileHandle.standardOutput.write(data)
    }
  }
}
