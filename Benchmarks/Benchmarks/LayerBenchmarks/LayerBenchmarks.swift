import Benchmark
import ConvBackends
import ConvCore
import Foundation
import ResNet

/// Every registered backend on every distinct convolution shape of
/// ResNet-50 v1.5 (224×224, batch 1), with each backend's default
/// configuration, on all cores. Names are "backend_descriptor" so a
/// threshold file says which kernel on which layer moved.
///
/// `RESNET_BENCH_BENCHMARK_BACKENDS=a,b` limits the backends (the naive one
/// takes seconds per suite and is excluded unless named).
let benchmarks: @Sendable () -> Void = {
  // Wall-clock median may drift 15% before the check fails: the machine is
  // shared and a convolution's time moves a few percent run to run.
  Benchmark.defaultConfiguration = .init(
    metrics: [.wallClock],
    timeUnits: .microseconds,
    warmupIterations: 3,
    maxDuration: .milliseconds(400),
    maxIterations: 200,
    thresholds: [.wallClock: BenchmarkThresholds(relative: [.p50: 15.0])])

  let threads = ThreadPool.availableCores
  BackendRegistry.setLibraryThreads(threads)
  let pool = ThreadPool.shared(threads: threads)
  let wanted = ProcessInfo.processInfo.environment["RESNET_BENCH_BENCHMARK_BACKENDS"]?.split(separator: ",").map(String.init)
  let backends = BackendRegistry.available.filter { wanted?.contains($0.name) ?? ($0.name != "naive") }
  guard let model = try? ResNetModel(depth: .resnet50) else { return }

  for shape in model.distinctShapes {
    let problem = shape.problem
    let weights = ConvWeights.random(for: problem, seed: 0)
    var rng = SeededGenerator(seed: 1)
    let input = AlignedBuffer(rng.normals(problem.inputCount))
    let output = AlignedBuffer(count: problem.outputCount)
    for backend in backends where backend.canRun(problem).isSupported {
      guard let prepared = try? backend.prepare(problem, weights: weights, config: .default) else { continue }
      let workspace = Workspace(byteCount: prepared.workspaceBytes)
      Benchmark("\(backend.name)_\(problem.descriptor)") { benchmark in
        for _ in benchmark.scaledIterations {
          prepared.run(input: input.pointer, output: output.pointer, residual: nil, relu: true,
                       workspace: workspace.pointer, pool: pool)
        }
        blackHole(output.pointer[0])
      }
    }
  }
}
