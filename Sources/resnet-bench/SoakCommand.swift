import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import ResNet
import Tuning

struct SoakCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "soak",
    abstract: "Run many consecutive inferences on a plan or backend and check that memory does not grow and results stay bit-identical.",
    discussion: """
      Reports resident memory after the first and after the last inference and
      exits 1 if it grew by more than --max-growth-mb or if the last logits
      differ in any bit from the first.

      Example: resnet-bench soak --plan results/plan-resnet50-v1.5-batch1.json --iterations 1000
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var threading: ThreadOptions
  @OptionGroup var backends: BackendOptions

  @Option(help: ArgumentHelp("A plan from `tune` (layers on mixed backends), or 'auto'.", valueName: "file|auto"))
  var plan: String?

  @Option(help: "Consecutive inferences.")
  var iterations: Int = 1000

  @Option(help: "Largest tolerated growth of resident memory, MiB.")
  var maxGrowthMb: Double = 8

  @Option(help: "Seed of weights and input.")
  var seed: UInt64 = 0

  func validate() throws {
    guard iterations >= 2 && iterations <= 10_000_000 else { throw ValidationError("--iterations must be between 2 and 10000000 (got \(iterations))") }
    guard maxGrowthMb >= 0 else { throw ValidationError("--max-growth-mb must not be negative") }
  }

  func run() throws {
    let pool = threading.configure()
    let net = try model.build()
    try MemoryBudget.check(net, engines: 1)
    let inputs = try NetworkInputs.load(for: net, weightsFile: nil, inputFile: nil, seed: seed)
    let engine: InferenceEngine
    let what: String
    if let path = plan.flatMap({ PlanOptions.resolve($0, for: net, threads: pool.threadCount) }) {
      let loaded = try Plan.load(from: URL(fileURLWithPath: path))
      switch loaded.compatibility(with: net, fingerprint: MachineFingerprint.current(threads: pool.threadCount)) {
      case .incompatible(let why): throw PlanError("\(path): \(why)")
      case .otherMachine(let why): note("warning: plan \(path) was \(why)")
      case .compatible: break
      }
      engine = try InferenceEngine(model: net, weights: inputs.weights, pool: pool, assignment: try loaded.assignment(for: net))
      let used = Set(engine.bindings.map(\.backend.name)).sorted()
      what = "plan \(path) (backends: \(used.joined(separator: ", ")))"
    } else {
      let backend = backends.backend == "all" ? TiledSIMDBackend() : try backends.single()
      engine = try InferenceEngine(model: net, weights: inputs.weights, backend: backend, pool: pool)
      what = "backend \(backend.name)"
    }
    note("\(net.name), \(iterations) inferences on \(what), \(pool.threadCount) threads")
    let r = Soak.run(engine, input: inputs.image, iterations: iterations, progress: { note("  \($0) inferences") })
    let mib = 1024.0 * 1024
    let growth = Double(r.rssEnd - r.rssStart) / mib
    print("inferences: \(r.iterations) in \(fixed(r.seconds, 1)) s; resident memory \(fixed(Double(r.rssStart) / mib, 1)) MiB after the first, "
          + "\(fixed(Double(r.rssEnd) / mib, 1)) MiB after the last (growth \(fixed(growth, 2)) MiB); "
          + "logits first vs last: \(r.identical ? "bit-identical" : "DIFFERENT")")
    if growth > maxGrowthMb || !r.identical { throw ExitCode(1) }
  }
}
