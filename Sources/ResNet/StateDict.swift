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

/// The number of elements and bytes a tensor of `shape` needs, or nil when
/// either does not fit in an Int. File headers are untrusted: a shape such as
/// [2^62] must be refused here, not wrap to a small byte count.
func tensorSize(shape: [Int], elementSize: Int) -> (count: Int, bytes: Int)? {
  var count = 1
  for d in shape {
    guard d >= 0 else { return nil }
    let (m, overflow) = count.multipliedReportingOverflow(by: d)
    if overflow { return nil }
    count = m
  }
  let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
  return overflow ? nil : (count, bytes)
}
