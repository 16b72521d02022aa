import ConvCore

/// Weights for a ResNet: producing them (seeded), listing the tensors a model
/// expects, and folding BatchNorm into the convolutions.
///
/// Two layouts, each as its framework stores it:
/// - torchvision (the v1 and v1.5 variants): state_dict keys `conv1.weight`
///   (OIHW, `[out, in/groups, kh, kw]`), `bn1.weight`, `bn1.bias`,
///   `bn1.running_mean`, `bn1.running_var`, `fc.weight` (`[out, in]`), `fc.bias`;
/// - Keras (the keras variants): `<layer>/<weight>` — `conv1_conv/kernel`
///   (HWIO, `[kh, kw, in, out]`), `conv1_conv/bias`, `conv1_bn/gamma`, `/beta`,
///   `/moving_mean`, `/moving_variance`, `predictions/kernel` (`[in, out]`),
///   `predictions/bias` — the names of a Keras weights file without the `:0`
///   suffix Keras 2 appends.
public enum ResNetWeights {
  /// BatchNorm's ε in torchvision (`ResNetModel.batchNormEpsilon` has the variant's).
  public static let batchNormEpsilon: Float = 1e-5

  /// The tensors a model's weights must hold, with their shapes, in the
  /// framework's order. (torchvision's `num_batches_tracked` is not needed for
  /// inference and is ignored when present.)
  public static func expectedTensors(for model: ResNetModel) -> [(key: String, shape: [Int])] {
    var out: [(String, [Int])] = []
    for layer in model.layers {
      let p = layer.problem
      let (o, i, kh, kw) = (p.outChannels, p.groupInChannels, p.kernelHeight, p.kernelWidth)
      if model.variant.isKeras {
        out.append(("\(layer.name)/kernel", layer.isFullyConnected ? [i, o] : [kh, kw, i, o]))
        out.append(("\(layer.name)/bias", [o]))
        if let bn = layer.batchNormName {
          for field in ["gamma", "beta", "moving_mean", "moving_variance"] { out.append(("\(bn)/\(field)", [o])) }
        }
      } else if let bn = layer.batchNormName {
        out.append(("\(layer.name).weight", [o, i, kh, kw]))
        for field in ["weight", "bias", "running_mean", "running_var"] { out.append(("\(bn).\(field)", [o])) }
      } else {
        out.append(("\(layer.name).weight", [o, i]))
        out.append(("\(layer.name).bias", [o]))
      }
    }
    return out
  }

  /// A deterministic set of weights for `model` from `seed`, in its layout.
  ///
  /// Convolutions: He-normal, std = √(2 / fan-in) (He et al. 2015), which keeps
  /// activation scale through conv + ReLU; Keras's convolution biases
  /// N(0, 0.05²). BatchNorm statistics are deliberately not the identity, so
  /// folding is exercised: scale γ ∈ [0.5, 1.5) (the last BatchNorm of each
  /// residual branch γ ∈ [0.1, 0.4), so the residual sum grows slowly with
  /// depth), shift β ~ N(0, 0.05²), running mean ~ N(0, 0.1²), running
  /// variance ∈ [0.5, 1.5). Classifier: uniform ±1/√in, as torchvision's
  /// default initialisation of `nn.Linear`.
  public static func seeded(for model: ResNetModel, seed: UInt64) -> StateDict {
    var rng = SeededGenerator(seed: seed)
    var dict = StateDict()
    let keras = model.variant.isKeras
    for layer in model.layers {
      let p = layer.problem
      let (o, i, kh, kw) = (p.outChannels, p.groupInChannels, p.kernelHeight, p.kernelWidth)
      if let bn = layer.batchNormName {
        let std = (2.0 / Double(p.reductionLength)).squareRoot()
        let oihw = rng.normals(p.weightCount, std: std)
        let c = p.outChannels
        let gamma = layer.closesBranch ? rng.uniforms(c, 0.1, 0.4) : rng.uniforms(c, 0.5, 1.5)
        let beta = rng.normals(c, std: 0.05), mean = rng.normals(c, std: 0.1), variance = rng.uniforms(c, 0.5, 1.5)
        if keras {
          dict["\(layer.name)/kernel"] = NamedTensor(shape: [kh, kw, i, o], values: Layout.hwio(fromOIHW: oihw, o, i, kh, kw))
          dict["\(layer.name)/bias"] = NamedTensor(shape: [c], values: rng.normals(c, std: 0.05))
          for (field, values) in [("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", variance)] {
            dict["\(bn)/\(field)"] = NamedTensor(shape: [c], values: values)
          }
        } else {
          dict["\(layer.name).weight"] = NamedTensor(shape: [o, i, kh, kw], values: oihw)
          for (field, values) in [("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", variance)] {
            dict["\(bn).\(field)"] = NamedTensor(shape: [c], values: values)
          }
        }
      } else {
        let bound = 1 / Double(i).squareRoot()
        let weight = rng.uniforms(p.weightCount, -bound, bound), bias = rng.uniforms(o, -bound, bound)
        if keras {
          dict["\(layer.name)/kernel"] = NamedTensor(shape: [i, o], values: Layout.hwio(fromOIHW: weight, o, i, 1, 1))
          dict["\(layer.name)/bias"] = NamedTensor(shape: [o], values: bias)
        } else {
          dict["\(layer.name).weight"] = NamedTensor(shape: [o, i], values: weight)
          dict["\(layer.name).bias"] = NamedTensor(shape: [o], values: bias)
        }
      }
    }
    return dict
  }

  /// Checks that `dict` holds every tensor `model` needs, with the right shape,
  /// and folds each BatchNorm into its convolution:
  /// w′ = w·γ/√(σ²+ε), b′ = β + (b − μ)·γ/√(σ²+ε), b the convolution's own bias
  /// (0 in torchvision's layout). Returns one `ConvWeights` (OIHW) per layer.
  /// - Parameter otherDtypes: tensors present in the file with a dtype other
  ///   than F32, so a needed one is reported as a dtype error, not as missing.
  public static func fold(_ dict: StateDict, for model: ResNetModel, otherDtypes: [String: String] = [:]) throws -> [ConvWeights] {
    func tensor(_ key: String, _ shape: [Int]) throws -> [Float] {
      if let dtype = otherDtypes[key] { throw ModelError("weights: tensor '\(key)' has dtype \(dtype), expected F32") }
      guard let t = dict[key] else { throw ModelError("weights: missing tensor '\(key)'") }
      guard t.shape == shape else {
        throw ModelError("weights: tensor '\(key)' has shape \(t.shape), expected \(shape) for \(model.name) \(model.variant.rawValue)")
      }
      return t.values
    }
    let keras = model.variant.isKeras
    let epsilon = model.batchNormEpsilon
    return try model.layers.map { layer in
      let p = layer.problem
      let (o, i, kh, kw) = (p.outChannels, p.groupInChannels, p.kernelHeight, p.kernelWidth)
      var w: [Float], ownBias: [Float]
      if keras {
        let kernel = try tensor("\(layer.name)/kernel", layer.isFullyConnected ? [i, o] : [kh, kw, i, o])
        w = Layout.oihw(fromHWIO: kernel, o, i, kh, kw)
        ownBias = try tensor("\(layer.name)/bias", [o])
      } else {
        w = try tensor("\(layer.name).weight", layer.isFullyConnected ? [o, i] : [o, i, kh, kw])
        ownBias = layer.isFullyConnected ? try tensor("\(layer.name).bias", [o]) : [Float](repeating: 0, count: o)
      }
      guard let bn = layer.batchNormName else { return ConvWeights(weights: w, bias: ownBias) }
      let names = keras ? ["gamma", "beta", "moving_mean", "moving_variance"].map { "\(bn)/\($0)" }
        : ["weight", "bias", "running_mean", "running_var"].map { "\(bn).\($0)" }
      let gamma = try tensor(names[0], [o]), beta = try tensor(names[1], [o])
      let mean = try tensor(names[2], [o]), variance = try tensor(names[3], [o])
      var bias = [Float](repeating: 0, count: o)
      let perFilter = i * kh * kw
      for c in 0..<o {
        guard variance[c].isFinite, variance[c] + epsilon > 0 else {
          throw ModelError("weights: tensor '\(names[3])' holds \(variance[c]) at index \(c); a variance must be non-negative")
        }
        let scale = gamma[c] / (variance[c] + epsilon).squareRoot()
        for j in 0..<perFilter { w[c * perFilter + j] *= scale }
        bias[c] = beta[c] + (ownBias[c] - mean[c]) * scale
      }
      return ConvWeights(weights: w, bias: bias)
    }
  }
}

/// Reorderings between the checkpoint layouts.
enum Layout {
  /// OIHW `[o][i][kh][kw]` → HWIO `[kh][kw][i][o]`.
  static func hwio(fromOIHW w: [Float], _ o: Int, _ i: Int, _ kh: Int, _ kw: Int) -> [Float] {
    var out = [Float](repeating: 0, count: w.count)
    for a in 0..<o { for b in 0..<i { for y in 0..<kh { for x in 0..<kw {
      out[((y * kw + x) * i + b) * o + a] = w[((a * i + b) * kh + y) * kw + x]
    } } } }
    return out
  }

  /// HWIO → OIHW, the inverse.
  static func oihw(fromHWIO w: [Float], _ o: Int, _ i: Int, _ kh: Int, _ kw: Int) -> [Float] {
    var out = [Float](repeating: 0, count: w.count)
    for a in 0..<o { for b in 0..<i { for y in 0..<kh { for x in 0..<kw {
      out[((a * i + b) * kh + y) * kw + x] = w[((y * kw + x) * i + b) * o + a]
    } } } }
    return out
  }
}
