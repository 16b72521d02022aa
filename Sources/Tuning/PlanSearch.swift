import Foundation
import ResNet

/// Finds a committed plan that fits the network about to run on this machine
/// (`--plan auto`).
public enum PlanSearch {
  /// The `results/` folder of the package this binary was built from: the
  /// first ancestor of the executable's folder that holds `Package.swift` and
  /// `results/` (a release build lives at `<package>/.build/release/`), so
  /// the answer does not depend on the working directory; nil when there is none.
  public static var packageResults: String? {
    let executable = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                           ?? CommandLine.arguments[0]).standardizedFileURL
    var folder = executable.deletingLastPathComponent()
    while folder.path != "/" {
      let results = folder.appendingPathComponent("results")
      if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path),
         FileManager.default.fileExists(atPath: results.path) {
        return results.path
      }
      folder = folder.deletingLastPathComponent()
    }
    return nil
  }

  /// The first `*.json` plan in `folder` (sorted by name) that is
  /// `.compatible` with `model` on this machine and thread count; nil when
  /// there is none.
  public static func find(in folder: String, for model: ResNetModel, fingerprint: MachineFingerprint) -> String? {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
    for name in names.sorted() where name.hasSuffix(".json") {
      let path = (folder as NSString).appendingPathComponent(name)
      guard let plan = try? Plan.load(from: URL(fileURLWithPath: path)) else { continue }
      if plan.compatibility(with: model, fingerprint: fingerprint) == .compatible { return path }
    }
    return nil
  }
}
