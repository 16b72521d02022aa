import ConvCore

/// The depths of the ResNet family (He et al., "Deep Residual Learning for
/// Image Recognition", 2015, Table 1).
public enum ResNetDepth: Int, CaseIterable, Sendable, Codable {
  case resnet18 = 18, resnet34 = 34, resnet50 = 50, resnet101 = 101, resnet152 = 152

  public var modelName: String { "resnet\(rawValue)" }

  public init?(modelName: String) {
    guard let depth = Self.allCases.first(where: { $0.modelName == modelName.lowercased() }) else { return nil }
    self = depth
  }

  /// Blocks in each of the four stages.
  public var stageBlocks: [Int] {
    switch self {
    case .resnet18: [2, 2, 2, 2]
    case .resnet34: [3, 4, 6, 3]
    case .resnet50: [3, 4, 6, 3]
    case .resnet101: [3, 4, 23, 3]
    case .resnet152: [3, 8, 36, 3]
    }
  }

  /// Bottleneck blocks (1×1, 3×3, 1×1 with 4× expansion) from ResNet-50 on; basic blocks (two 3×3) below.
  public var usesBottleneck: Bool { rawValue >= 50 }
  public var expansion: Int { usesBottleneck ? 4 : 1 }
}

/// Where a bottleneck block that halves the resolution puts its stride.
public enum ResNetVariant: String, CaseIterable, Sendable, Codable {
  /// Stride on the first 1×1 convolution: the original paper, Keras.
  case v1 = "v1"
  /// Stride on the 3×3 convolution: torchvision, MLPerf (the default).
  case v1_5 = "v1.5"
}

/// One convolution (or the fully connected layer, computed as a 1×1
/// convolution over a 1×1 image) of a ResNet.
public struct ConvLayer: Sendable {
  /// torchvision's module name: `conv1`, `layer1.0.conv2`, `layer1.0.downsample.0`, `fc`.
  public var name: String
  /// The BatchNorm that follows it (`bn1`, `layer1.0.bn2`, `layer1.0.downsample.1`); nil for `fc`.
  public var batchNormName: String?
  public var problem: ConvProblem
  public var isFullyConnected: Bool { batchNormName == nil }
}

/// One step of inference over activation slots (NHWC buffers planned once).
public enum InferenceStep: Sendable {
  /// Convolution `layer` (index into `ResNetModel.layers`) from slot `input`
  /// into slot `output`, plus slot `residual` when present, then ReLU if `relu`.
  case conv(layer: Int, input: Int, output: Int, residual: Int?, relu: Bool)
  /// 3×3, stride 2, padding 1 max-pool.
  case maxPool(input: Int, output: Int, channels: Int, inHeight: Int, inWidth: Int)
  /// Mean over all spatial positions.
  case globalAveragePool(input: Int, output: Int, channels: Int, height: Int, width: Int)
}

/// A ResNet instantiated for a batch size, input size and class count: its
/// layers, parameter count and the inference program.
public struct ResNetModel: Sendable {
  public let depth: ResNetDepth
  public let variant: ResNetVariant
  public let batch: Int
  public let inputSize: Int
  public let classes: Int
  /// Every convolution in torchvision's module order, then `fc`.
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
    self.depth = depth
    self.variant = variant
    self.batch = batch
    self.inputSize = inputSize
    self.classes = classes
    build()
  }

  public var name: String { depth.modelName }

  /// Learnable parameters as torchvision counts them: convolution and fc
  /// weights, fc bias, and BatchNorm's scale and shift (not its running statistics).
  public var parameterCount: Int {
    layers.reduce(0) { total, layer in
      let p = layer.problem
      return total + p.weightCount + (layer.isFullyConnected ? p.outChannels : 2 * p.outChannels)
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
    return order.map { ($0, users[$0]!) }
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

  private mutating func addConv(
    _ name: String, bn: String?, input: Int, channels: Int, size: Int,
    outChannels: Int, kernel: Int, stride: Int, pad: Int,
    slots: inout SlotAllocator, residual: Int? = nil, relu: Bool
  ) -> (slot: Int, size: Int) {
    let p = ConvProblem(
      batch: batch, inChannels: channels, inHeight: size, outChannels: outChannels,
      kernelHeight: kernel, strideHeight: stride, padHeight: pad, name: name)
    layers.append(ConvLayer(name: name, batchNormName: bn, problem: p))
    let out = slots.acquire(p.outputCount)
    steps.append(.conv(layer: layers.count - 1, input: input, output: out, residual: residual, relu: relu))
    return (out, p.outHeight)
  }

  private mutating func build() {
    var slots = SlotAllocator()
    let image = slots.acquire(batch * inputSize * inputSize * Self.inputChannels)
    let stem = addConv("conv1", bn: "bn1", input: image, channels: 3, size: inputSize,
                       outChannels: 64, kernel: 7, stride: 2, pad: 3, slots: &slots, relu: true)
    // The image slot is never released: it must survive repeated runs.
    let pooledSize = (stem.size + 2 - 3) / 2 + 1
    var current = slots.acquire(batch * pooledSize * pooledSize * 64)
    steps.append(.maxPool(input: stem.slot, output: current, channels: 64, inHeight: stem.size, inWidth: stem.size))
    slots.release(stem.slot)

    var channels = 64, size = pooledSize
    for (stage, blocks) in depth.stageBlocks.enumerated() {
      let width = 64 << stage
      for block in 0..<blocks {
        let prefix = "layer\(stage + 1).\(block)"
        let stride = (stage > 0 && block == 0) ? 2 : 1
        let outChannels = width * depth.expansion
        let needsProjection = stride != 1 || channels != outChannels
        var next: (slot: Int, size: Int)
        if depth.usesBottleneck {
          let (s1, s2) = variant == .v1 ? (stride, 1) : (1, stride)
          let a = addConv("\(prefix).conv1", bn: "\(prefix).bn1", input: current, channels: channels, size: size,
                          outChannels: width, kernel: 1, stride: s1, pad: 0, slots: &slots, relu: true)
          let b = addConv("\(prefix).conv2", bn: "\(prefix).bn2", input: a.slot, channels: width, size: a.size,
                          outChannels: width, kernel: 3, stride: s2, pad: 1, slots: &slots, relu: true)
          slots.release(a.slot)
          let shortcut = needsProjection ? projection(prefix, current, channels, size, outChannels, stride, &slots) : current
          // Listed after conv3 (torchvision's module order), computed before it.
          next = addConv("\(prefix).conv3", bn: "\(prefix).bn3", input: b.slot, channels: width, size: b.size,
                         outChannels: outChannels, kernel: 1, stride: 1, pad: 0, slots: &slots, residual: shortcut, relu: true)
          slots.release(b.slot)
          if needsProjection { slots.release(shortcut); moveProjectionAfterLast() }
        } else {
          let a = addConv("\(prefix).conv1", bn: "\(prefix).bn1", input: current, channels: channels, size: size,
                          outChannels: width, kernel: 3, stride: stride, pad: 1, slots: &slots, relu: true)
          let shortcut = needsProjection ? projection(prefix, current, channels, size, outChannels, stride, &slots) : current
          next = addConv("\(prefix).conv2", bn: "\(prefix).bn2", input: a.slot, channels: width, size: a.size,
                         outChannels: outChannels, kernel: 3, stride: 1, pad: 1, slots: &slots, residual: shortcut, relu: true)
          slots.release(a.slot)
          if needsProjection { slots.release(shortcut); moveProjectionAfterLast() }
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
    let fc = addConv("fc", bn: nil, input: pooled, channels: channels, size: 1,
                     outChannels: classes, kernel: 1, stride: 1, pad: 0, slots: &slots, relu: false)
    outputSlot = fc.slot
    slotSizes = slots.sizes
  }

  private mutating func projection(
    _ prefix: String, _ input: Int, _ channels: Int, _ size: Int, _ outChannels: Int, _ stride: Int,
    _ slots: inout SlotAllocator
  ) -> Int {
    addConv("\(prefix).downsample.0", bn: "\(prefix).downsample.1", input: input, channels: channels, size: size,
            outChannels: outChannels, kernel: 1, stride: stride, pad: 0, slots: &slots, relu: false).slot
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
