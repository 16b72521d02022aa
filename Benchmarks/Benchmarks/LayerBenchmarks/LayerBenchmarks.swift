import Benchmark
import ConvBackends
import ConvCore
import Foundation
import Measurement
import ResNet

/// package-benchmark suites, from the registry's list:
///
/// - every registered backend on every distinct convolution shape of
///   ResNet-50 v1.5 (224×224, batch 1), with each backend's default
///   configuration, on all cores, set up by the project's `LayerTrial` (the
///   same seeded data and epilogue `conv` and `tune` time). Names are
///   "backend_descriptor" so a threshold file says which kernel on which layer moved.
/// - one steady-state ResNet-18 inference per backend, counting heap
///   allocations. The recorded count (Thresholds/) is zero for the project's
///   own backends and the tolerance zero: one allocation fails the check.
///   A BLAS library allocates inside its GEMM (a block or two per call, more
///   or fewer with its thread count), so for those backends the tolerance
///   over the recorded count is two per layer.
///
/// The wall-clock thresholds in Thresholds/ are absolute times from one run
/// on one machine kind; on a shared machine, whose speed drifts 15–35% for
/// minutes or hours, they say which state the host was in as much as what
/// the code does. They are for a quiet, dedicated machine; the regression
/// gate that holds on a shared one is scripts/ci-regression.sh (base and head
/// interleaved in one job). The allocation counts do not drift.
///
/// `RESNET_BENCH_BENCHMARK_BACKENDS=a,b` limits the backends (the naive one
/// takes seconds per suite and is excluded unless named).
let benchmarks: @Sendable () -> Void = {
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
  let backends = BackendRegistry.available.filter { wanted?.contains($0.name) ?? ($0.networkRepetitionCap == nil) }
  guard let model = try? ResNetModel(depth: .resnet50) else { return }

  for shape in model.distinctShapes {
    let trial = LayerTrial(problem: shape.problem, seed: 0, pool: pool)
    for backend in backends where backend.canRun(shape.problem).isSupported {
      guard let prepared = try? backend.prepare(shape.problem, weights: trial.weights, config: .default) else { continue }
      let candidate = trial.candidate(prepared)
      Benchmark("\(backend.name)_\(shape.problem.descriptor)") { benchmark in
        for _ in benchmark.scaledIterations { candidate.run() }
      }
    }
  }

  guard let small = try? ResNetModel(depth: .resnet18, inputSize: 64, classes: 10),
        let inputs = try? NetworkInputs.load(for: small, weightsFile: nil, inputFile: nil, seed: 0) else { return }
  for backend in backends {
    guard let engine = try? InferenceEngine(model: small, weights: inputs.weights, backend: backend, pool: pool) else { continue }
    engine.setInput(inputs.image)
    let allowed = backend.libraryDetails.isEmpty ? 0 : 2 * small.layers.count
    Benchmark("allocations_\(backend.name)_resnet18_64",
              configuration: .init(metrics: [.mallocCountTotal], warmupIterations: 3, maxIterations: 20,
                                   thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: allowed])])) { benchmark in
      for _ in benchmark.scaledIterations { engine.run() }
    }
  }
}
