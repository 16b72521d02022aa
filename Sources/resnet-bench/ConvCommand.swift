import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness

struct ConvCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "conv",
    abstract: "Time one convolution (a benchdnn descriptor) on each chosen backend; optionally check it against the Float64 reference.",
    discussion: """
      Weights, bias and input are seeded. The epilogue (bias, and with
      --residual/--relu the residual add and ReLU) runs as in the network.
      With --check, exits 1 if any backend exceeds its tolerance.

      Examples:
        resnet-bench conv mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1 --backend all --check
        resnet-bench conv mb1ic256ih56oc64kh1 --backend naive --threads 1
      """)

  @Argument(help: "benchdnn descriptor, e.g. mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1 (omitted mb means 2, as in benchdnn).")
  var descriptor: String

  @Option(help: "Backend name, comma-separated names, or 'all'.")
  var backend: String = "all"

  @Option(help: "Backend configuration (key=value,…); default: the backend's default.")
  var config: String?

  @OptionGroup var threading: ThreadOptions

  @Option(help: "Timed repetitions per backend.")
  var repetitions: Int = 20

  @Flag(help: "Compare each backend's output with the Float64 reference.")
  var check = false

  @Flag(help: "Add a residual tensor before the activation.")
  var residual = false

  @Flag(help: "Apply ReLU in the epilogue.")
  var relu = false

  @Option(help: "Seed of weights and input.")
  var seed: UInt64 = 0

  func validate() throws {
    guard repetitions >= 1 && repetitions <= 1_000_000 else { throw ValidationError("--repetitions must be between 1 and 1000000 (got \(repetitions))") }
    if let config, BackendConfig(parsing: config) == nil { throw ValidationError("malformed --config '\(config)'; expected key=value,…") }
  }

  func run() throws {
    let problem = try ConvProblem(descriptor: descriptor)
    let backends = try BackendRegistry.resolve(backend)
    try MemoryBudget.check(problem, reference: check)
    let pool = threading.configure()
    let wantedConfig = config.flatMap(BackendConfig.init(parsing:)) ?? .default
    let weights = ConvWeights.random(for: problem, seed: seed)
    var rng = SeededGenerator(seed: ~seed)
    let input = AlignedBuffer(rng.normals(problem.inputCount))
    let residualBuffer = residual ? AlignedBuffer(rng.normals(problem.outputCount)) : nil
    let output = AlignedBuffer(count: problem.outputCount)
    var reference: [Float]?
    if check {
      let prepared = try ReferenceBackend().prepare(problem, weights: weights, config: .default)
      reference = prepared.runOnce(input.array, residual: residualBuffer?.array, relu: relu, pool: pool)
    }
    let peak = FMAPeak.measure(pool: pool).allThreads
    print("\(problem.descriptor): \(fixed(Double(problem.flops) / 1e9, 3)) GFLOP, \(pool.threadCount) threads, FMA peak \(fixed(peak, 1)) GFLOP/s")
    var table = TextTable(["backend", "config", "median ms", "min ms", "GFLOP/s", "% peak"] + (check ? ["max error", "tolerance", "check"] : []))
    var failed = false
    for b in backends {
      if case .no(let why) = b.canRun(problem) {
        table.add([b.name, "-", "unsupported: \(why)"])
        continue
      }
      let prepared = try b.prepare(problem, weights: weights, config: wantedConfig)
      let workspace = Workspace(byteCount: prepared.workspaceBytes)
      let go = {
        prepared.run(input: input.pointer, output: output.pointer, residual: residualBuffer.map { UnsafePointer($0.pointer) },
                     relu: relu, workspace: workspace.pointer, pool: pool)
      }
      go()
      var samples: [Double] = []
      for _ in 0..<repetitions { samples.append(Stopwatch.time(go)) }
      let s = TimingSummary(samples)
      let rate = Double(problem.flops) / s.median / 1e9
      var row = [b.name, prepared.config.description, fixed(s.median * 1e3, 3), fixed(s.min * 1e3, 3), fixed(rate, 1), fixed(100 * rate / peak, 1)]
      if let reference {
        let error = ErrorMetric.maxError(output.array, reference: reference)
        let tolerance = b.tolerance(for: problem, config: prepared.config)
        row += [scientific(error), scientific(tolerance), error <= tolerance ? "ok" : "FAIL"]
        failed = failed || error > tolerance
      }
      table.add(row)
      if let lowered = prepared as? GemmLowered {
        let shape = lowered.gemmShape
        let once = lowered.makeBareGemm()
        once()
        let bare = TimingSummary((0..<repetitions).map { _ in Stopwatch.time(once) }).median
        let bareRate = Double(2 * shape.m * shape.n * shape.k * shape.groups) / bare / 1e9
        let convRate = Double(problem.flops) / s.median / 1e9
        table.add(["  bare sgemm \(shape.m)x\(shape.n)x\(shape.k)", "", fixed(bare * 1e3, 3), "", fixed(bareRate, 1), fixed(100 * bareRate / peak, 1)]
                  + (check ? ["conv/bare", fixed(100 * convRate / bareRate, 1) + "%", ""] : []))
      }
      if let phases = prepared.lastPhaseTimes {
        for phase in phases.phases {
          table.add(["  \(phase.name)", "", fixed(phase.seconds * 1e3, 3), "", "", ""])
        }
      }
    }
    print(table.render(), terminator: "")
    if failed { throw ExitCode(1) }
  }
}
