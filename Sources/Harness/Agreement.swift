import ConvBackends
import ConvCore
import ResNet

/// The Float64-reference network: every layer on `ReferenceBackend`.
public final class ReferenceNetwork {
  public let engine: InferenceEngine
  public init(model: ResNetModel, weights: [ConvWeights], pool: ThreadPool) throws {
    engine = try InferenceEngine(model: model, weights: weights, backend: ReferenceBackend(), pool: pool)
  }

  /// Runs once on `input`; returns the logits and, when `keepLayers`, every conv layer's output.
  public func run(input: [Float], keepLayers: Bool = false) -> (logits: [Float], layers: [[Float]]) {
    engine.setInput(input)
    var layers = Array(repeating: [Float](), count: keepLayers ? engine.model.layers.count : 0)
    engine.run(observe: keepLayers ? { i, out in layers[i] = Array(out) } : nil)
    return (engine.logits, layers)
  }
}

/// How a candidate's logits compare with the reference network's.
public struct Agreement: Sendable {
  public var maxError: Double
  public var tolerance: Double
  /// Every image's top-5 classes equal the reference's, in order, except
  /// where the reference's own logits tie within the tolerance.
  public var top5Equal: Bool
  public var passed: Bool { maxError <= tolerance && top5Equal }
  /// The first layer whose output exceeds its own tolerance (set for a failure).
  public var divergingLayer: String?
  public var divergingLayerError: Double?

  public static let topK = 5

  public static func compare(logits: [Float], reference: [Float], classes: Int, tolerance: Double) -> Agreement {
    let error = ErrorMetric.maxError(logits, reference: reference)
    var equal = true
    let rows = reference.count / classes
    for r in 0..<rows {
      let slice = r * classes..<(r + 1) * classes
      let mine = Pooling.topK(logits[slice], k: topK), theirs = Pooling.topK(reference[slice], k: topK)
      for (a, b) in zip(mine, theirs) where a != b {
        // Accept a swap only between classes whose reference logits are within tolerance of each other.
        let gap = abs(Double(reference[slice.lowerBound + a]) - Double(reference[slice.lowerBound + b]))
        let scale = max(abs(Double(reference[slice.lowerBound + b])), 1e-6)
        if gap / scale > tolerance { equal = false }
      }
    }
    return Agreement(maxError: error, tolerance: tolerance, top5Equal: equal)
  }

  /// Re-runs `candidate` layer by layer against the reference's stored layer
  /// outputs and records the first layer beyond its own tolerance.
  public mutating func locateDivergence(_ candidate: BenchmarkCandidate, input: [Float], referenceLayers: [[Float]]) {
    var found: (Int, Double)?
    candidate.engine.setInput(input)
    candidate.engine.run(observe: { i, out in
      guard found == nil else { return }
      let error = referenceLayers[i].withUnsafeBufferPointer { ErrorMetric.maxError(out, reference: $0) }
      if error > candidate.layerTolerance(i) { found = (i, error) }
    })
    if let (i, error) = found {
      divergingLayer = candidate.engine.model.layers[i].name
      divergingLayerError = error
    } else {
      divergingLayer = "no single layer exceeds its tolerance; the error accumulates over the network"
    }
  }
}

extension Agreement {
  /// Checks every candidate's logits against the Float64-reference network
  /// and, for each that fails, re-runs it to find the first diverging layer.
  public static func check(
    _ candidates: [BenchmarkCandidate], timings: [CandidateTiming], model: ResNetModel, weights: [ConvWeights],
    input: [Float], pool: ThreadPool
  ) throws -> [Agreement] {
    let reference = try ReferenceNetwork(model: model, weights: weights, pool: pool)
    let ref = reference.run(input: input)
    var referenceLayers: [[Float]]?
    return candidates.indices.map { i in
      var a = Agreement.compare(logits: timings[i].logits, reference: ref.logits, classes: model.classes, tolerance: candidates[i].tolerance)
      if !a.passed {
        if referenceLayers == nil { referenceLayers = reference.run(input: input, keepLayers: true).layers }
        a.locateDivergence(candidates[i], input: input, referenceLayers: referenceLayers!)
      }
      return a
    }
  }
}
