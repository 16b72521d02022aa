import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import Measurement
import ResNet
import Tuning

/// Which network to build.
struct ModelOptions: ParsableArguments {
  @Option(help: "Model: \(ResNetDepth.allCases.map(\.modelName).joined(separator: ", ")).")
  var model: String = "resnet50"

  @Option(help: "v1.5 (stride on the 3×3 of a bottleneck; torchvision, the default), v1 (stride on the first 1×1; the paper), keras (keras.applications' layout: v1 strides, convolution biases, Keras names) or keras-same (the same with the tutorial's padding='same' stem).")
  var variant: String = ResNetVariant.v1_5.rawValue

  @Option(help: "Images per batch.")
  var batch: Int = 1

  @Option(help: "Input height and width in pixels (at least 32).")
  var size: Int = 224

  @Option(help: "Number of output classes.")
  var classes: Int = 1000

  func validate() throws {
    guard ResNetDepth(modelName: model) != nil else {
      throw ValidationError("unknown model '\(model)'; choose one of \(ResNetDepth.allCases.map(\.modelName).joined(separator: ", "))")
    }
    guard ResNetVariant(rawValue: variant) != nil else {
      throw ValidationError("unknown variant '\(variant)'; choose \(ResNetVariant.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard batch >= 1 && batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096 (got \(batch))") }
    guard size >= 32 && size <= 4096 else { throw ValidationError("--size must be between 32 and 4096 (got \(size))") }
    guard classes >= 1 && classes <= 1_000_000 else { throw ValidationError("--classes must be between 1 and 1000000 (got \(classes))") }
  }

  func build() throws -> ResNetModel {
    try ResNetModel(depth: ResNetDepth(modelName: model)!, variant: ResNetVariant(rawValue: variant)!,
                    batch: batch, inputSize: size, classes: classes)
  }
}

/// The one thread count that configures the project's pool, OpenBLAS and BLIS alike.
struct ThreadOptions: ParsableArguments {
  @Option(help: "Threads for every backend and library (default: all cores).")
  var threads: Int?

  func validate() throws {
    if let threads, threads < 1 || threads > 1024 {
      throw ValidationError("--threads must be between 1 and 1024 (got \(threads))")
    }
  }

  /// The resolved count, applied to every library; returns the project's pool.
  func configure() -> ThreadPool {
    let n = threads ?? ThreadPool.availableCores
    BackendRegistry.setLibraryThreads(n)
    return ThreadPool.shared(threads: n)
  }
}

/// Which backends a command runs: one option, the same in every command.
struct BackendOptions: ParsableArguments {
  @Option(name: [.customLong("backend"), .customLong("backends")],
          help: "Backends: a name, comma-separated names, or 'all' (\(BackendRegistry.names.joined(separator: ", "))).")
  var backend: String = "all"

  func resolve() throws -> [any ConvolutionBackend] { try BackendRegistry.resolve(backend) }

  /// Exactly one backend, for commands that run a single engine.
  func single() throws -> any ConvolutionBackend {
    let list = try resolve()
    guard list.count == 1 else {
      throw ValidationError("--backend must name one backend here (got '\(backend)'); known: \(BackendRegistry.names.joined(separator: ", "))")
    }
    return list[0]
  }
}

/// How many times to time each candidate: the same option names and limits everywhere.
struct RepetitionOptions: ParsableArguments {
  @Option(help: "Timed repetitions per candidate, each in its own interleaved round.")
  var repetitions: Int = 10

  @Option(help: "Untimed runs per candidate before timing.")
  var warmup: Int = 1

  @Option(help: "Keep adding rounds until every candidate has run this many seconds (up to 10× --repetitions).")
  var minTime: Double = 0

  @Option(help: "Seed of the shuffled order of each round (recorded in --json).")
  var orderSeed: UInt64 = 0

  @Option(help: "Untimed runs of a candidate right before each of its timed runs, so each is timed in its steady state (e.g. after another process's turn in --lockstep).")
  var warmEach: Int = 0

  static let maxRepetitions = 100_000

  func validate() throws {
    guard repetitions >= 1 && repetitions <= Self.maxRepetitions else {
      throw ValidationError("--repetitions must be between 1 and \(Self.maxRepetitions) (got \(repetitions))")
    }
    guard warmup >= 0 && warmup <= 1000 else { throw ValidationError("--warmup must be between 0 and 1000 (got \(warmup))") }
    guard minTime >= 0 && minTime <= 3600 else { throw ValidationError("--min-time must be between 0 and 3600 seconds (got \(minTime))") }
    guard warmEach >= 0 && warmEach <= 100 else { throw ValidationError("--warm-each must be between 0 and 100 (got \(warmEach))") }
  }

  func policy(lockstep: Lockstep? = nil) -> SamplingPolicy {
    var policy = SamplingPolicy(warmup: warmup, repetitions: repetitions, minSeconds: minTime, seed: orderSeed, lockstep: lockstep)
    policy.warmEach = warmEach
    return policy
  }
}

/// Plans to run: files, or `auto` for the committed plan that fits.
struct PlanOptions: ParsableArguments {
  @Option(name: .customLong("plan"),
          help: ArgumentHelp("A plan from `tune` (repeat for several, timed side by side), or 'auto': the plan in this package's results/ that fits the model, machine and threads.",
                             valueName: "file|auto"))
  var plans: [String] = []

  @Flag(help: "Refuse a plan measured on another machine, build or thread count (default: warn).")
  var strict = false

  /// The plan files, `auto` resolved; says which file `auto` chose, or that none fits.
  func resolve(for model: ResNetModel, threads: Int) -> [String] {
    plans.compactMap { Self.resolve($0, for: model, threads: threads) }
  }

  /// One `--plan` value: a file, or for `auto` the fitting committed plan (nil when none fits).
  static func resolve(_ entry: String, for model: ResNetModel, threads: Int) -> String? {
    guard entry == "auto" else { return entry }
    guard let folder = PlanSearch.packageResults else {
      note("--plan auto: no results/ folder beside this binary's package; running without a plan")
      return nil
    }
    let here = MachineFingerprint.current(threads: threads)
    guard let found = PlanSearch.find(in: folder, for: model, fingerprint: here) else {
      note("--plan auto: no plan in \(folder) fits \(model.name) \(model.variant.rawValue) batch \(model.batch) size \(model.inputSize) on machine \(here.id) with \(threads) threads; running without a plan")
      return nil
    }
    note("--plan auto: using \(found)")
    return found
  }
}

/// Where a command's data goes: CSV and JSON to files or to stdout (`-`). When
/// either goes to stdout the human-readable table goes to stderr, so stdout
/// holds only the requested data.
struct OutputOptions: ParsableArguments {
  @Option(help: "Write CSV rows to FILE, or '-' for stdout.")
  var csv: String?

  @Option(help: "Write every sample in Google Benchmark's JSON format to FILE, or '-' for stdout.")
  var json: String?

  func validate() throws {
    if csv == "-" && json == "-" { throw ValidationError("--csv - and --json - cannot both go to stdout") }
  }

  /// True when stdout carries data, so tables go to stderr.
  var dataOnStdout: Bool { csv == "-" || json == "-" }

  /// Prints the table where it belongs.
  func show(_ text: String) {
    if dataOnStdout { FileHandle.standardError.write(Data(text.utf8)) } else { print(text, terminator: "") }
  }

  func write(csv text: String, rows: Int) throws { try emit(text, to: csv, what: "\(rows) CSV rows") }
  func write(json data: Data) throws { try emit(String(decoding: data, as: UTF8.self) + "\n", to: json, what: "JSON samples") }

  private func emit(_ text: String, to destination: String?, what: String) throws {
    guard let destination else { return }
    if destination == "-" {
      FileHandle.standardOutput.write(Data(text.utf8))
    } else {
      try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: destination))
      note("wrote \(what) to \(destination)")
    }
  }
}
