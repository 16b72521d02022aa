import ConvCore

/// Weights for a ResNet: producing them (seeded), listing the state_dict keys
/// a model expects, and folding BatchNorm into the convolutions.
public enum ResNetWeights {
  /// BatchNorm's ε in torchvision.
  public static let batchNormEpsilon: Float = 1e-5

  /// The tensors a model's state_dict must hold, with their shapes, in
  /// torchvision's order. (`num_batches_tracked` is not needed for inference
  /// and is ignored when present.)
  public static func expectedTensors(for model: ResNetModel) -> [(key: String, shape: [Int])] {
    var out: [(String, [Int])] = []
    for layer in model.layers {
      let p = layer.problem
      if let bn = layer.batchNormName {
        out.append(("\(layer.name).weight", [p.outChannels, p.inChannels, p.kernelHeight, p.kernelWidth]))
        for field in ["weight", "bias", "running_mean", "running_var"] { out.append(("\(bn).\(field)", [p.outChannels])) }
      } else {
        out.append(("\(layer.name).weight", [p.outChannels, p.inChannels]))
        out.append(("\(layer.name).bias", [p.outChannels]))
      }
    }
    return out
  }

  /// A deterministic state_dict for `model` from `seed`.
  ///
  /// Convolutions: He-normal, std = √(2 / fan-in) (He et al. 2015), which keeps
  /// activation scale through conv + ReLU. BatchNorm statistics are deliberately
  /// not the identity, so folding is exercised: scale γ ∈ [0.5, 1.5) (the last
  /// BatchNorm of each residual branch γ ∈ [0.1, 0.4), so the residual sum grows
  /// slowly with depth), shift β ~ N(0, 0.05²), running mean ~ N(0, 0.1²),
  /// running variance ∈ [0.5, 1.5). fc: uniform ±1/√in, as torchvision's
  /// default initialisation of `nn.Linear`.
  public static func seeded(for model: ResNetModel, seed: UInt64) -> StateDict {
    var rng = SeededGenerator(seed: seed)
    var dict = StateDict()
    for layer in model.layers {
      let p = layer.problem
      if let bn = layer.batchNormName {
        let std = (2.0 / Double(p.reductionLength)).squareRoot()
        dict["\(layer.name).weight"] = NamedTensor(
          shape: [p.outChannels, p.inChannels, p.kernelHeight, p.kernelWidth],
          values: rng.normals(p.weightCount, std: std))
        let c = p.outChannels
        let closesBranch = layer.name.hasSuffix(model.depth.usesBottleneck ? "conv3" : "conv2")
        dict["\(bn).weight"] = NamedTensor(shape: [c], values: closesBranch ? rng.uniforms(c, 0.1, 0.4) : rng.uniforms(c, 0.5, 1.5))
        dict["\(bn).bias"] = NamedTensor(shape: [c], values: rng.normals(c, std: 0.05))
        dict["\(bn).running_mean"] = NamedTensor(shape: [c], values: rng.normals(c, std: 0.1))
        dict["\(bn).running_var"] = NamedTensor(shape: [c], values: rng.uniforms(c, 0.5, 1.5))
      } else {
        let bound = 1 / Double(p.inChannels).squareRoot()
        dict["\(layer.name).weight"] = NamedTensor(shape: [p.outChannels, p.inChannels], values: rng.uniforms(p.weightCount, -bound, bound))
        dict["\(layer.name).bias"] = NamedTensor(shape: [p.outChannels], values: rng.uniforms(p.outChannels, -bound, bound))
      }
    }
    return dict
  }

  /// Checks that `dict` holds every tensor `model` needs, with the right shape,
  /// and folds each BatchNorm into its convolution:
  /// w′ = w·γ/√(σ²+ε), b′ = β − μ·γ/√(σ²+ε). Returns one `ConvWeights` per layer.
  /// - Parameter otherDtypes: tensors present in the file with a dtype other
  ///   than F32, so a needed one is reported as a dtype error, not as missing.
  public static func fold(_ dict: StateDict, for model: ResNetModel, otherDtypes: [String: String] = [:]) throws -> [ConvWeights] {
    func tensor(_ key: String, _ shape: [Int]) throws -> [Float] {
      if let dtype = otherDtypes[key] { throw ModelError("weights: tensor '\(key)' has dtype \(dtype), expected F32") }
      guard let t = dict[key] else { throw ModelError("weights: missing tensor '\(key)'") }
      guard t.shape == shape else {
        throw ModelError("weights: tensor '\(key)' has shape \(t.shape), expected \(shape) for \(model.name)")
      }
      return t.values
    }
    return try model.layers.map { layer in
      let p = layer.problem
      guard let bn = layer.batchNormName else {
        return ConvWeights(weights: try tensor("\(layer.name).weight", [p.outChannels, p.inChannels]),
                           bias: try tensor("\(layer.name).bias", [p.outChannels]))
      }
      var w = try tensor("\(layer.name).weight", [p.outChannels, p.inChannels, p.kernelHeight, p.kernelWidth])
      let c = [p.outChannels]
      let gamma = try tensor("\(bn).weight", c), beta = try tensor("\(bn).bias", c)
      let mean = try tensor("\(bn).running_mean", c), variance = try tensor("\(bn).running_var", c)
      var bias = [Float](repeating: 0, count: p.outChannels)
      let perFilter = p.inChannels * p.kernelHeight * p.kernelWidth
      for o in 0..<p.outChannels {
        guard variance[o] + batchNormEpsilon > 0, variance[o].isFinite else {
          throw ModelError("weights: tensor '\(bn).running_var' holds \(variance[o]) at index \(o); a variance must be non-negative")
        }
        let scale = gamma[o] / (variance[o] + batchNormEpsilon).squareRoot()
        for i in 0..<perFilter { w[o * perFilter + i] *= scale }
        bias[o] = beta[o] - mean[o] * scale
      }
      return ConvWeights(weights: w, bias: bias)
    }
  }
}
