import _AllocationCounter
import ConvBackends
import ConvCore
import Harness
import Measurement
import ResNet
import TestSupport
import XCTest

/// A steady-state inference allocates nothing: every buffer is planned when
/// the engine is built. Counted with a malloc front linked into the test
/// executable, for every registered backend and for a plan mixing them.
final class AllocationTests: XCTestCase {
  private func requireCounter() throws {
    guard resnet_bench_allocation_counter_installed() == 1 else {
      // Sanitizer builds replace the allocator; nothing to count with.
      if TestEnvironment.isCI { throw TestEnvironment.MissingRequirement("the allocation counter (a sanitizer build?)") }
      throw XCTSkip("allocation counter not installed (sanitizer build)")
    }
  }

  /// The counter sees allocations at all: a check that can fail.
  func testCounterSeesAnAllocation() throws {
    try requireCounter()
    resnet_bench_allocation_counter_start()
    let values = [Int](repeating: 7, count: 1000 + Int.random(in: 0..<2))
    let counted = resnet_bench_allocation_counter_stop()
    blackHole(values)
    XCTAssertGreaterThan(counted, 0)
  }

  /// The project's own backends, and a plan dealing the layers out over
  /// them, allocate nothing in a steady-state inference.
  func testSteadyStateInferenceAllocatesNothing() throws {
    try requireCounter()
    let model = try ResNetModel(depth: .resnet18, inputSize: 64, classes: 10)
    let inputs = try NetworkInputs.load(for: model, weightsFile: nil, inputFile: nil, seed: 2)
    let pool = ThreadPool.shared(threads: 2)
    let own = BackendRegistry.available.filter { $0.libraryDetails.isEmpty }
    XCTAssertEqual(Set(own.map(\.name)), ["naive", "tiled-simd", "winograd"])
    var engines: [(String, InferenceEngine)] = try own.map {
      ($0.name, try InferenceEngine(model: model, weights: inputs.weights, backend: $0, pool: pool))
    }
    let mixed = model.layers.indices.map { (own[$0 % own.count], BackendConfig.default) }
    engines.append(("plan", try InferenceEngine(model: model, weights: inputs.weights, pool: pool, assignment: mixed)))
    // Winograd F(2,3) along rows on every layer it can run (a tuner candidate, not a default).
    let winograd = try XCTUnwrap(own.first { $0.name == "winograd" })
    let rows = model.layers.map { layer in
      (winograd as any ConvolutionBackend, winograd.supports(layer.problem) == .yes ? BackendConfig(["dims": 1]) : BackendConfig.default)
    }
    let rowEngine = try InferenceEngine(model: model, weights: inputs.weights, pool: pool, assignment: rows)
    XCTAssertTrue(rowEngine.bindings.contains { $0.config["dims"] == 1 }, "some layers run F(2,3) along rows")
    engines.append(("winograd dims=1", rowEngine))
    var layerSeconds = [Double](repeating: 0, count: model.layers.count)
    for (name, engine) in engines {
      engine.setInput(inputs.image)
      for _ in 0..<3 { engine.run() }
      let counted = layerSeconds.withUnsafeMutableBufferPointer { buffer -> Int in
        resnet_bench_allocation_counter_start()
        engine.run(layerSeconds: buffer.baseAddress)
        return resnet_bench_allocation_counter_stop()
      }
      XCTAssertEqual(counted, 0, "\(name): \(counted) allocations in one steady-state inference")
    }
  }
}

extension AllocationTests {
  /// The BLAS libraries allocate inside their GEMM calls — OpenBLAS 0.3.21's
  /// threaded path (`sgemm_thread_nn`) its work array, BLIS 0.9 on one
  /// thread its control tree — a block or two per call; the project's code
  /// around them allocates nothing (the prefill, gather and ReLU passes are
  /// the tasks the other backends use). Held to that bound with 1 and 2
  /// library threads.
  func testLibraryAllocationsAreAtMostTwoPerGemmCall() throws {
    try requireCounter()
    defer { BackendRegistry.setLibraryThreads(ThreadPool.availableCores) }
    for threads in [1, 2] {
    BackendRegistry.setLibraryThreads(threads)
    let model = try ResNetModel(depth: .resnet18, inputSize: 64, classes: 10)
    let inputs = try NetworkInputs.load(for: model, weightsFile: nil, inputFile: nil, seed: 2)
    for backend in [Im2colGemmBackend.openBLAS, Im2colGemmBackend.blis] where backend.availability.isAvailable {
      let engine = try InferenceEngine(model: model, weights: inputs.weights, backend: backend, pool: .shared(threads: 2))
      engine.setInput(inputs.image)
      for _ in 0..<3 { engine.run() }
      resnet_bench_allocation_counter_start()
      engine.run()
      let counted = resnet_bench_allocation_counter_stop()
      print("\(backend.name): \(counted) allocations with \(threads) library threads, \(model.layers.count) GEMM calls")
      XCTAssertLessThanOrEqual(counted, 2 * model.layers.count, "\(backend.name), \(threads) library threads")
    }
    }
  }
}
