import ConvBackends
import ConvCore
import Foundation
import Measurement
import ResNet

/// One thing whose end-to-end inference is timed: a single backend, or a plan.
public struct BenchmarkCandidate {
  /// `naive`, `im2col-openblas`, …, `plan`, or a plan file's name when several plans run.
  public var name: String
  public var engine: InferenceEngine
  /// Logit tolerance against the Float64-reference network: the loosest of
  /// the backends that compute its layers (`networkTolerance`).
  public var tolerance: Double
  /// Most timed repetitions worth spending (the tightest cap of its backends).
  public var repetitionCap: Int?
  /// The plan file it runs, for plan candidates.
  public var planPath: String?

  /// Per-layer tolerance used to locate where a disagreeing candidate diverges.
  public func layerTolerance(_ i: Int) -> Double {
    engine.bindings[i].backend.tolerance(for: engine.model.layers[i].problem, config: engine.bindings[i].config)
  }

  public init(name: String, engine: InferenceEngine, planPath: String? = nil) {
    self.name = name
    self.engine = engine
    self.planPath = planPath
    tolerance = engine.bindings.map(\.backend.networkTolerance).max() ?? Tolerance.networkDirect
    repetitionCap = engine.bindings.compactMap(\.backend.networkRepetitionCap).min()
  }

  /// A candidate running every layer on `backend` (falling back where it cannot).
  public static func backend(_ backend: any ConvolutionBackend, model: ResNetModel, weights: [ConvWeights], pool: ThreadPool) throws -> BenchmarkCandidate {
    BenchmarkCandidate(name: backend.name, engine: try InferenceEngine(model: model, weights: weights, backend: backend, pool: pool))
  }

  /// A candidate running each layer on the backend and configuration a plan assigns.
  public static func plan(
    _ assignment: [(backend: any ConvolutionBackend, config: BackendConfig)], name: String, path: String?,
    model: ResNetModel, weights: [ConvWeights], pool: ThreadPool
  ) throws -> BenchmarkCandidate {
    BenchmarkCandidate(name: name, engine: try InferenceEngine(model: model, weights: weights, pool: pool, assignment: assignment),
                       planPath: path)
  }
}

/// Timings of one candidate, every sample kept.
public struct CandidateTiming {
  public var name: String
  /// End-to-end seconds of each timed inference, in round order.
  public var samples: [Double]
  /// CPU seconds of the calling thread during each.
  public var cpuSamples: [Double]
  /// Per layer (index in `model.layers`): seconds of each timed inference.
  public var layerSamples: [[Double]]
  /// Per layer: thread-seconds in its tasks during each timed inference,
  /// when thread use was measured on a pool of several threads; else empty.
  public var layerBusySamples: [[Double]] = []
  public var logits: [Float]
  public var probabilities: [Float]
  public var summary: TimingSummary { TimingSummary(samples) }
}

/// Times candidates in interleaved, shuffled rounds (`Sampler`) after a
/// warm-up, so slow drift of the machine (frequency, a neighbour's load) hits
/// all alike; keeps every sample, network and per layer.
public enum NetworkBenchmark {
  /// - Parameter threadUse: also record each layer's thread-seconds in tasks
  ///   (`CandidateTiming.layerBusySamples`), when the pool has several threads.
  public static func measure(
    _ candidates: [BenchmarkCandidate], input: [Float], policy: SamplingPolicy, threadUse: Bool = false,
    progress: (String) -> Void = { _ in }
  ) -> (timings: [CandidateTiming], record: SamplingRecord) {
    let layerCount = candidates.first?.engine.model.layers.count ?? 0
    for c in candidates { c.engine.setInput(input) }
    let pools = candidates.map(\.engine.pool)
    let busy = threadUse && pools.allSatisfy { $0.threadCount > 1 }
    let accounting = pools.map(\.accountsBusyTime)
    if busy { for p in pools { p.accountsBusyTime = true } }
    defer { for (p, was) in zip(pools, accounting) { p.accountsBusyTime = was } }
    var layerSamples = Array(repeating: Array(repeating: [Double](), count: layerCount), count: candidates.count)
    var layerBusySamples = layerSamples
    var layerSeconds = [Double](repeating: 0, count: layerCount)
    var layerBusy = [Double](repeating: 0, count: layerCount)
    let record = layerSeconds.withUnsafeMutableBufferPointer { buffer in
      layerBusy.withUnsafeMutableBufferPointer { busyBuffer in
        Sampler.sample(
          count: candidates.count, policy: policy, caps: candidates.map(\.repetitionCap),
          run: { candidates[$0].engine.run(layerSeconds: buffer.baseAddress, layerBusySeconds: busy ? busyBuffer.baseAddress : nil) },
          record: { i in
            for l in 0..<layerCount {
              layerSamples[i][l].append(buffer[l])
              if busy { layerBusySamples[i][l].append(busyBuffer[l]) }
            }
          },
          progress: { round, counts in
            progress("round \(round): " + candidates.indices.map { "\(candidates[$0].name) \(counts[$0])" }.joined(separator: ", "))
          })
      }
    }
    let timings = candidates.indices.map { i in
      CandidateTiming(name: candidates[i].name, samples: record.samples[i], cpuSamples: record.cpuSamples[i],
                      layerSamples: layerSamples[i], layerBusySamples: busy ? layerBusySamples[i] : [],
                      logits: candidates[i].engine.logits, probabilities: candidates[i].engine.probabilities)
    }
    return (timings, record)
  }
}
