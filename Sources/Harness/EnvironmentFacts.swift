import ConvBackends
import ConvCore
import Foundation
import Measurement
import ResNet
import Tuning

/// `env --json`: the machine, and the project's facts that scripts (the peer
/// comparisons) read instead of keeping copies: the agreement rule, the
/// architecture of every model, every backend's capabilities.
public enum EnvironmentFacts {
  public static func json(fingerprint: MachineFingerprint, peak: FMAPeak.Result, poolOverhead: (hot: Double, afterIdle: Double)) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let fpObject = try JSONSerialization.jsonObject(with: encoder.encode(fingerprint))
    let backends: [[String: Any]] = BackendRegistry.all.map { b in
      var o: [String: Any] = ["name": b.name, "summary": b.summary, "available": b.availability.isAvailable,
                              "networkTolerance": b.networkTolerance]
      if let why = b.availability.reason { o["reason"] = why }
      if let rank = b.fallbackRank { o["fallbackRank"] = rank }
      if let cap = b.networkRepetitionCap { o["networkRepetitionCap"] = cap }
      return o
    }
    var models: [String: Any] = [:]
    for depth in ResNetDepth.allCases {
      models[depth.modelName] = [
        "stageBlocks": depth.stageBlocks, "bottleneck": depth.usesBottleneck, "expansion": depth.expansion,
        "groups": depth.groups, "widthPerGroup": depth.widthPerGroup, "batchNormEpsilon": Double(ResNetWeights.batchNormEpsilon),
      ]
    }
    let object: [String: Any] = [
      "fingerprint": fpObject, "fingerprintId": fingerprint.id,
      "peak": ["singleThreadGflops": peak.singleThread, "allThreadsGflops": peak.allThreads, "threads": peak.threads,
               "lanes": peak.lanes, "suspect": peak.suspect],
      "poolDispatchSeconds": ["hot": poolOverhead.hot, "afterIdle": poolOverhead.afterIdle],
      "kernels": KernelTableListing.native(on: .current),
      "agreement": [
        "errorFloorFraction": ErrorMetric.floorFraction,
        "networkTolerance": ["direct": Tolerance.networkDirect, "winograd": Tolerance.networkWinograd],
        "topK": Agreement.topK,
        "topKRule": "a swap between two classes counts only when their reference logits differ by more than the tolerance (relative)",
        "layerTolerance": ["direct": "max(128·ε, 64·ε·√K), ε = 2^-23, K = (C/groups)·R·S", "winograd": Tolerance.winograd],
      ],
      "backends": backends, "models": models,
    ]
    return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
  }
}
