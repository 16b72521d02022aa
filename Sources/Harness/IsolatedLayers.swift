import ConvCore
import Measurement
import ResNet

/// Each layer of a candidate timed alone, the way `conv` times a shape: the
/// same backend and configuration the candidate's engine runs it with, the
/// layer's own weights, its epilogue, repeated with its data hot in cache.
/// Beside the in-network times of `run --layers` it shows what a layer loses
/// inside the network (cold weights, the previous layer's output to read,
/// the pool waking up).
public enum IsolatedLayers {
  /// Median seconds per layer; layers sharing shape, backend and configuration are timed once.
  public static func measure(_ candidate: BenchmarkCandidate, weights: [ConvWeights], policy: SamplingPolicy,
                             pool: ThreadPool) throws -> [Double] {
    let model = candidate.engine.model
    var residual = [Bool](repeating: false, count: model.layers.count)
    var relu = [Bool](repeating: false, count: model.layers.count)
    for step in model.steps {
      if case let .conv(layer, _, _, r, activation) = step { (residual[layer], relu[layer]) = (r != nil, activation) }
    }
    var done: [String: Double] = [:]
    return try model.layers.indices.map { i in
      let binding = candidate.engine.bindings[i]
      let problem = model.layers[i].problem
      let key = "\(problem.descriptor)|\(binding.backend.name)|\(binding.config)|\(residual[i])|\(relu[i])"
      if let t = done[key] { return t }
      let trial = LayerTrial(problem: problem, seed: 0, pool: pool, weights: weights[i])
      let prepared = try binding.backend.prepare(problem, weights: weights[i], config: binding.config)
      let timed = trial.candidate(prepared, residual: residual[i], relu: relu[i])
      let t = TimingSummary(trial.time([timed], policy: policy).samples[0]).median
      done[key] = t
      return t
    }
  }
}
