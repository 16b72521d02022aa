import Foundation
import ResNet

/// Refuses work whose buffers would not fit in memory, before allocating them.
public enum MemoryBudget {
  /// Bytes one inference engine needs, estimated from above: activation slots,
  /// the weights three times over (the checkpoint's copy, the folded copy and
  /// a backend's packed copy) and a workspace as large as the largest im2col
  /// matrix.
  public static func bytesPerEngine(_ model: ResNetModel) -> Double {
    let floatBytes = Double(MemoryLayout<Float>.stride)
    let activations = Double(model.slotSizes.reduce(0, +))
    let weights = 3 * Double(model.parameterCount)
    let workspace = Double(model.layers.map { $0.problem.batch * $0.problem.outHeight * $0.problem.outWidth * $0.problem.reductionLength }.max() ?? 0)
    return (activations + weights + workspace) * floatBytes
  }

  public struct TooLarge: Error, CustomStringConvertible {
    public let description: String
  }

  /// Throws when `engines` engines (plus the reference network) would need
  /// more than the machine's physical memory.
  public static func check(_ model: ResNetModel, engines: Int) throws {
    let needed = bytesPerEngine(model) * Double(engines + 1)
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    if needed > available {
      let gib = 1024.0 * 1024 * 1024
      throw TooLarge(description: "\(model.name) at batch \(model.batch), \(model.inputSize)×\(model.inputSize) needs about "
        + "\(fixed(needed / gib, 1)) GiB for \(engines) backend(s) and the reference; this machine has \(fixed(available / gib, 1)) GiB")
    }
  }
}
