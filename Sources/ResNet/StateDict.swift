/// A named Float32 tensor as checkpoints hold it (torchvision layout: OIHW for
/// convolutions, [out, in] for fc, [C] for BatchNorm vectors).
public struct NamedTensor: Sendable, Equatable {
  public var shape: [Int]
  public var values: [Float]

  public init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
    self.shape = shape
    self.values = values
  }
}

/// Tensors by torchvision state_dict key (`conv1.weight`, `bn1.running_mean`, …).
public typealias StateDict = [String: NamedTensor]
