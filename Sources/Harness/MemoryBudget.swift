import ConvCore
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
    try refuse(ifNeeded: needed, what: "\(model.name) at batch \(model.batch), \(model.inputSize)×\(model.inputSize)",
               for: "\(engines) backend(s) and the reference")
  }

  /// Throws when writing `model`'s weights would not fit: the seeded
  /// weights, a layout-converted copy and the encoded file held in memory
  /// (three copies of every parameter, BatchNorm's included).
  public static func checkExport(_ model: ResNetModel) throws {
    let needed = 3 * Double(model.parameterCount) * Double(MemoryLayout<Float>.stride)
    try refuse(ifNeeded: needed, what: "\(model.name) with \(model.classes) classes", for: "its weights and the file being written")
  }

  /// Bytes `conv` needs for one problem, estimated from above: input, output
  /// and residual each held twice (generated values and the aligned copy),
  /// the filters five times (the generated copy, and one backend's prepared
  /// copy at a time, Winograd F(4×4,3×3)'s 36/9 = 4× being the largest), an
  /// im2col-sized workspace, and with `reference` the Float64 copies of
  /// input, output and filters.
  public static func bytes(for problem: ConvProblem, reference: Bool) -> Double {
    let (input, output, weights) = (Double(problem.inputCount), Double(problem.outputCount), Double(problem.weightCount))
    let workspace = Double(problem.batch * problem.outHeight * problem.outWidth) * Double(problem.reductionLength)
    var floats = 2 * input + 4 * output + 5 * weights + workspace
    if reference { floats += 2 * (input + output + weights) }
    return floats * Double(MemoryLayout<Float>.stride)
  }

  /// Throws when one convolution (with or without the Float64 check) would
  /// need more than the machine's physical memory.
  public static func check(_ problem: ConvProblem, reference: Bool) throws {
    try refuse(ifNeeded: bytes(for: problem, reference: reference), what: problem.descriptor,
               for: reference ? "its buffers and the Float64 check" : "its buffers")
  }

  private static func refuse(ifNeeded needed: Double, what: String, for purpose: String) throws {
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    if needed > available {
      let gib = 1024.0 * 1024 * 1024
      throw TooLarge(description: "\(what) needs about \(fixed(needed / gib, 1)) GiB for \(purpose); "
        + "this machine has \(fixed(available / gib, 1)) GiB")
    }
  }
}
