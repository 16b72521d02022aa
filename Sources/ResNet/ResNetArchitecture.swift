import ConvCore

/// The networks of torchvision's `resnet` module: the ResNets of He et al.,
/// "Deep Residual Learning for Image Recognition" (2015, Table 1), the
/// ResNeXts of Xie et al., "Aggregated Residual Transformations for Deep
/// Neural Networks" (2017: the bottleneck's 3×3 split into `groups` groups),
/// and the wide ResNets of Zagoruyko & Komodakis, "Wide Residual Networks"
/// (2016: the bottleneck twice as wide).
public enum ResNetDepth: String, CaseIterable, Sendable, Codable {
  case resnet18, resnet34, resnet50, resnet101, resnet152
  case resnext50_32x4d, resnext101_32x8d, resnext101_64x4d
  case wide_resnet50_2, wide_resnet101_2

  public var modelName: String { rawValue }

  public init?(modelName: String) {
    guard let depth = Self.allCases.first(where: { $0.modelName == modelName.lowercased() }) else { return nil }
    self = depth
  }

  /// Blocks in each of the four stages.
  public var stageBlocks: [Int] {
    switch self {
    case .resnet18: [2, 2, 2, 2]
    case .resnet34, .resnet50, .resnext50_32x4d, .wide_resnet50_2: [3, 4, 6, 3]
    case .resnet101, .resnext101_32x8d, .resnext101_64x4d, .wide_resnet101_2: [3, 4, 23, 3]
    case .resnet152: [3, 8, 36, 3]
    }
  }

  /// Bottleneck blocks (1×1, 3×3, 1×1 with 4× expansion) from ResNet-50 on; basic blocks (two 3×3) below.
  public var usesBottleneck: Bool { self != .resnet18 && self != .resnet34 }
  public var expansion: Int { usesBottleneck ? 4 : 1 }

  /// Groups of the bottleneck's 3×3 convolution (torchvision `groups`).
  public var groups: Int {
    switch self {
    case .resnext50_32x4d, .resnext101_32x8d: 32
    case .resnext101_64x4d: 64
    default: 1
    }
  }

  /// Channels per group of the bottleneck at stage width 64 (torchvision `width_per_group`).
  public var widthPerGroup: Int {
    switch self {
    case .resnext50_32x4d, .resnext101_64x4d: 4
    case .resnext101_32x8d: 8
    case .wide_resnet50_2, .wide_resnet101_2: 128
    default: 64
    }
  }

  /// The bottleneck's inner width at a stage of `planes` channels:
  /// ⌊planes · widthPerGroup / 64⌋ · groups (torchvision's `Bottleneck`).
  public func bottleneckWidth(planes: Int) -> Int { planes * widthPerGroup / 64 * groups }
}

/// Which layout of the network: where a halving bottleneck puts its stride,
/// and whose conventions the layers follow.
public enum ResNetVariant: String, CaseIterable, Sendable, Codable {
  /// Stride on the first 1×1 convolution: the original paper.
  case v1 = "v1"
  /// Stride on the 3×3 convolution: torchvision, MLPerf (the default).
  case v1_5 = "v1.5"
  /// `keras.applications.ResNet50/101/152`: v1 strides, every convolution with
  /// a bias, BatchNormalization ε = 1.001e-5, an explicit zero padding of 3
  /// before the valid 7×7/2 stem and of 1 before the valid 3×3/2 max-pool, and
  /// Keras's layer names (`conv1_conv`, `conv2_block1_0_conv`, …, `predictions`).
  case keras = "keras"
  /// The same network with the stem of the tutorial it grew from:
  /// `padding='same'` on the 7×7/2 convolution and on the 3×3/2 max-pool,
  /// which TensorFlow pads asymmetrically (the extra row and column at the
  /// bottom and right: 2 above and 3 below for 7×7/2 on 224).
  case kerasSame = "keras-same"

  /// Keras's conventions (names, biases, ε) rather than torchvision's.
  public var isKeras: Bool { self == .keras || self == .kerasSame }
  /// Which convolution of a halving bottleneck carries the stride.
  var strideOnFirstPointwise: Bool { self != .v1_5 }
}

/// TensorFlow's `padding='same'`: the output is ⌈size / stride⌉ and the
/// padding that needs, `max((out − 1)·stride + kernel − size, 0)`, is split
/// with the extra row (column) after: (before, after).
public func samePadding(size: Int, kernel: Int, stride: Int) -> (before: Int, after: Int) {
  let out = (size + stride - 1) / stride
  let total = max((out - 1) * stride + kernel - size, 0)
  return (total / 2, total - total / 2)
}

/// One convolution (or the fully connected layer, computed as a 1×1
/// convolution over a 1×1 image) of a ResNet.
public struct ConvLayer: Sendable {
  /// The framework's name: torchvision's module (`conv1`, `layer1.0.conv2`,
  /// `layer1.0.downsample.0`, `fc`) or Keras's layer (`conv1_conv`, …, `predictions`).
  public var name: String
  /// The BatchNorm that follows it (`bn1`, `layer1.0.bn2`, `conv1_bn`); nil for the classifier.
  public var batchNormName: String?
  /// The convolution has a bias of its own before the BatchNorm (Keras).
  public var hasBias: Bool
  public var problem: ConvProblem
  public var isFullyConnected: Bool { batchNormName == nil }
  /// The last convolution of a residual branch (its BatchNorm is seeded small).
  public var closesBranch: Bool
}

/// One step of inference over activation slots (NHWC buffers planned once).
public enum InferenceStep: Sendable, Equatable {
  /// Convolution `layer` (index into `ResNetModel.layers`) from slot `input`
  /// into slot `output`, plus slot `residual` when present, then ReLU if `relu`.
  case conv(layer: Int, input: Int, output: Int, residual: Int?, relu: Bool)
  /// 3×3, stride 2 max-pool; padding never wins the max.
  case maxPool(input: Int, output: Int, pool: MaxPool)
  /// Mean over all spatial positions.
  case globalAveragePool(input: Int, output: Int, channels: Int, height: Int, width: Int)
}

/// The stem's max-pool: a 3×3 window, stride 2, with its padding on each side.
public struct MaxPool: Sendable, Equatable {
  public var channels: Int
  public var inHeight: Int
  public var inWidth: Int
  public var padTop: Int
  public var padLeft: Int
  public var padBottom: Int
  public var padRight: Int
  public static let window = 3
  public static let stride = 2
  public var outHeight: Int { (inHeight + padTop + padBottom - Self.window) / Self.stride + 1 }
  public var outWidth: Int { (inWidth + padLeft + padRight - Self.window) / Self.stride + 1 }
}

/// A ResNet instantiated for a batch size, input size and class count: its
/// layers, parameter count and the inference program.
public struct ResNetModel: Sendable {
  public let depth: ResNetDepth
  public let variant: ResNetVariant
  public let batch: Int
  public let inputSize: Int
  public let classes: Int
  /// Every convolution in the framework's order (torchvision's module order,
  /// or Keras's layer order), then the classifier.
  public private(set) var layers: [ConvLayer] = []
  public private(set) var steps: [InferenceStep] = []
  /// Float count of each activation slot; slot 0 holds the input image.
  public private(set) var slotSizes: [Int] = []
  public private(set) var outputSlot = 0

  public static let inputChannels = 3

  public init(depth: ResNetDepth, variant: ResNetVariant = .v1_5, batch: Int = 1, inputSize: Int = 224, classes: Int = 1000) throws {
    guard batch >= 1 else { throw ModelError("batch must be at least 1 (got \(batch))") }
    guard classes >= 1 else { throw ModelError("classes must be at least 1 (got \(classes))") }
    // The stem (stride 2), the max-pool (stride 2) and three strided stages
    // need at least 32 pixels for the last stage to keep one.
    guard inputSize >= 32 else { throw ModelError("input size must be at least 32 (got \(inputSize))") }
    if variant.isKeras && !depth.usesBottleneck || variant.isKeras && depth.groups != 1 || variant.isKeras && depth.widthPerGroup != 64 {
      throw ModelError("the \(variant.rawValue) variant is Keras's ResNet50/101/152; \(depth.modelName) has no Keras layout")
    }
    self.depth = depth
    self.variant = variant
    self.batch = batch
    self.inputSize = inputSize
    self.classes = classes
    build()
  }

  public var name: String { depth.modelName }

  /// BatchNorm's ε: torchvision's 1e-5, Keras's 1.001e-5.
  public var batchNormEpsilon: Float { variant.isKeras ? 1.001e-5 : 1e-5 }

  /// Parameters as the framework counts them: torchvision the learnable ones
  /// (convolution and fc weights, fc bias, BatchNorm scale and shift); Keras
  /// every weight of the model (`count_params`), so also the convolutions'
  /// biases and BatchNorm's moving mean and variance.
  public var parameterCount: Int {
    layers.reduce(0) { total, layer in
      let p = layer.problem
      let batchNorm = layer.isFullyConnected ? 0 : (variant.isKeras ? 4 : 2) * p.outChannels
      let bias = layer.isFullyConnected || layer.hasBias ? p.outChannels : 0
      return total + p.weightCount + bias + batchNorm
    }
  }

  /// Multiply-accumulates of one inference (batch included), convolutions and fc.
  public var macs: Int { layers.reduce(0) { $0 + $1.problem.macs } }

  /// The distinct convolution shapes, in first-use order, with the layers that use each.
  public var distinctShapes: [(problem: ConvProblem, layers: [String])] {
    var order: [ConvProblem] = []
    var users: [ConvProblem: [String]] = [:]
    for layer in layers {
      if users[layer.problem] == nil { order.append(layer.problem) }
      users[layer.problem, default: []].append(layer.name)
    }
    return order.map { ($0, users[$0] ?? []) }
  }

  // MARK: - Building the program

  private struct SlotAllocator {
    var sizes: [Int] = []
    var free: [Int] = []
    mutating func acquire(_ count: Int) -> Int {
      if let slot = free.popLast() { sizes[slot] = max(sizes[slot], count); return slot }
      sizes.append(count)
      return sizes.count - 1
    }
    mutating func release(_ slot: Int) { free.append(slot) }
  }

  /// The names a layer gets: (convolution, BatchNorm).
  private func names(stage: Int, block: Int, conv: Int) -> (String, String) {
    if variant.isKeras {
      let prefix = "conv\(stage + 2)_block\(block + 1)_\(conv)"
      return ("\(prefix)_conv", "\(prefix)_bn")
    }
    let prefix = "layer\(stage + 1).\(block)"
    return conv == 0 ? ("\(prefix).downsample.0", "\(prefix).downsample.1") : ("\(prefix).conv\(conv)", "\(prefix).bn\(conv)")
  }

  private mutating func addConv(
    _ names: (String, String?), input: Int, channels: Int, size: Int, outChannels: Int, kernel: Int, stride: Int,
    pad: (before: Int, after: Int), groups: Int = 1, slots: inout SlotAllocator, residual: Int? = nil, relu: Bool,
    closesBranch: Bool = false
  ) -> (slot: Int, size: Int) {
    let p = ConvProblem(
      batch: batch, groups: groups, inChannels: channels, inHeight: size, outChannels: outChannels,
      kernelHeight: kernel, strideHeight: stride, padHeight: pad.before, padBottom: pad.after, padRight: pad.after,
      name: names.0)
    let isClassifier = names.1 == nil
    layers.append(ConvLayer(name: names.0, batchNormName: names.1, hasBias: variant.isKeras && !isClassifier, problem: p,
                            closesBranch: closesBranch))
    let out = slots.acquire(p.outputCount)
    steps.append(.conv(layer: layers.count - 1, input: input, output: out, residual: residual, relu: relu))
    return (out, p.outHeight)
  }

  private mutating func build() {
    var slots = SlotAllocator()
    let image = slots.acquire(batch * inputSize * inputSize * Self.inputChannels)
    let stemPad = variant == .kerasSame ? samePadding(size: inputSize, kernel: 7, stride: 2) : (3, 3)
    let stemNames = variant.isKeras ? ("conv1_conv", "conv1_bn") : ("conv1", "bn1")
    let stem = addConv((stemNames.0, stemNames.1), input: image, channels: 3, size: inputSize,
                       outChannels: 64, kernel: 7, stride: 2, pad: stemPad, slots: &slots, relu: true)
    // The image slot is never released: it must survive repeated runs.
    let poolPad = variant == .kerasSame ? samePadding(size: stem.size, kernel: MaxPool.window, stride: MaxPool.stride) : (1, 1)
    let pool = MaxPool(channels: 64, inHeight: stem.size, inWidth: stem.size, padTop: poolPad.0, padLeft: poolPad.0,
                       padBottom: poolPad.1, padRight: poolPad.1)
    var current = slots.acquire(batch * pool.outHeight * pool.outWidth * 64)
    steps.append(.maxPool(input: stem.slot, output: current, pool: pool))
    slots.release(stem.slot)

    var channels = 64, size = pool.outHeight
    for (stage, blocks) in depth.stageBlocks.enumerated() {
      let planes = 64 << stage
      for block in 0..<blocks {
        let stride = (stage > 0 && block == 0) ? 2 : 1
        let outChannels = planes * depth.expansion
        let needsProjection = stride != 1 || channels != outChannels
        var next: (slot: Int, size: Int)
        // Keras lists a block's projection first (`_0_`); torchvision after the main path (`downsample`).
        let projectionFirst = variant.isKeras
        var shortcut = current
        if needsProjection && projectionFirst {
          shortcut = addConv(names(stage: stage, block: block, conv: 0), input: current, channels: channels, size: size,
                             outChannels: outChannels, kernel: 1, stride: stride, pad: (0, 0), slots: &slots, relu: false).slot
        }
        if depth.usesBottleneck {
          let width = depth.bottleneckWidth(planes: planes)
          let (s1, s2) = variant.strideOnFirstPointwise ? (stride, 1) : (1, stride)
          let a = addConv(names(stage: stage, block: block, conv: 1), input: current, channels: channels, size: size,
                          outChannels: width, kernel: 1, stride: s1, pad: (0, 0), slots: &slots, relu: true)
          let b = addConv(names(stage: stage, block: block, conv: 2), input: a.slot, channels: width, size: a.size,
                          outChannels: width, kernel: 3, stride: s2, pad: (1, 1), groups: depth.groups, slots: &slots, relu: true)
          slots.release(a.slot)
          if needsProjection && !projectionFirst { shortcut = torchvisionProjection(stage, block, current, channels, size, outChannels, stride, &slots) }
          // Listed after conv3 (torchvision's module order), computed before it.
          next = addConv(names(stage: stage, block: block, conv: 3), input: b.slot, channels: width, size: b.size,
                         outChannels: outChannels, kernel: 1, stride: 1, pad: (0, 0), slots: &slots, residual: shortcut,
                         relu: true, closesBranch: true)
          slots.release(b.slot)
        } else {
          let a = addConv(names(stage: stage, block: block, conv: 1), input: current, channels: channels, size: size,
                          outChannels: planes, kernel: 3, stride: stride, pad: (1, 1), slots: &slots, relu: true)
          if needsProjection { shortcut = torchvisionProjection(stage, block, current, channels, size, outChannels, stride, &slots) }
          next = addConv(names(stage: stage, block: block, conv: 2), input: a.slot, channels: planes, size: a.size,
                         outChannels: outChannels, kernel: 3, stride: 1, pad: (1, 1), slots: &slots, residual: shortcut,
                         relu: true, closesBranch: true)
          slots.release(a.slot)
        }
        if needsProjection {
          slots.release(shortcut)
          if !projectionFirst { moveProjectionAfterLast() }
        }
        slots.release(current)
        current = next.slot
        channels = outChannels
        size = next.size
      }
    }
    let pooled = slots.acquire(batch * channels)
    steps.append(.globalAveragePool(input: current, output: pooled, channels: channels, height: size, width: size))
    slots.release(current)
    let fc = addConv((variant.isKeras ? "predictions" : "fc", nil), input: pooled, channels: channels, size: 1,
                     outChannels: classes, kernel: 1, stride: 1, pad: (0, 0), slots: &slots, relu: false)
    outputSlot = fc.slot
    slotSizes = slots.sizes
  }

  private mutating func torchvisionProjection(
    _ stage: Int, _ block: Int, _ input: Int, _ channels: Int, _ size: Int, _ outChannels: Int, _ stride: Int,
    _ slots: inout SlotAllocator
  ) -> Int {
    addConv(names(stage: stage, block: block, conv: 0), input: input, channels: channels, size: size,
            outChannels: outChannels, kernel: 1, stride: stride, pad: (0, 0), slots: &slots, relu: false).slot
  }

  /// Puts the projection shortcut, appended to `layers` before the block's
  /// last convolution, after it, as torchvision lists its modules.
  private mutating func moveProjectionAfterLast() {
    let last = layers.count - 1
    layers.swapAt(last - 1, last)
    for i in steps.indices {
      if case .conv(let layer, let input, let output, let residual, let relu) = steps[i], layer >= last - 1 {
        steps[i] = .conv(layer: layer == last ? last - 1 : last, input: input, output: output, residual: residual, relu: relu)
      }
    }
  }
}

/// A model that cannot be built or loaded as asked.
public struct ModelError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
