import Foundation
import ResNet

/// Finds a committed plan that fits the network about to run on this machine.
public enum PlanSearch {
  /// The first `*.json` plan in `folder` (sorted by name) made for this model,
  /// variant, batch, size and class count on a machine with this fingerprint
  /// and thread count; nil when there is none.
  public static func find(in folder: String, for model: ResNetModel, fingerprint: MachineFingerprint) -> String? {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
    for name in names.sorted() where name.hasSuffix(".json") {
      let path = (folder as NSString).appendingPathComponent(name)
      guard let plan = try? Plan.load(from: URL(fileURLWithPath: path)) else { continue }
      if plan.fingerprintId == fingerprint.id, plan.threads == fingerprint.threads, plan.model == model.name,
         plan.variant == model.variant.rawValue, plan.batch == model.batch, plan.inputSize == model.inputSize,
         plan.classes == model.classes {
        return path
      }
    }
    return nil
  }
}
