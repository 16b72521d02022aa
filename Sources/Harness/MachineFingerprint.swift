import ConvBackends
import ConvCore
import Foundation

/// What a measurement depends on: the CPU, the build and the libraries.
/// Plans and CSV rows carry its `id` so results from different machines are never mixed.
public struct MachineFingerprint: Codable, Sendable, Equatable {
  public var cpuModel: String
  /// The ISA features that matter here: fma, avx2, avx512f.
  public var isaFeatures: [String]
  public var cores: Int
  public var threads: Int
  /// "release, -Ounchecked -target-cpu native" or "debug".
  public var build: String
  /// Per backend: "available" or the reason it is not, plus what it bound to.
  public var backends: [String: String]

  public static func current(threads: Int) -> MachineFingerprint {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
    let flagsLine = info.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    let features = ["fma", "avx2", "avx512f"].filter { flags.contains($0) }
    var backends: [String: String] = [:]
    for b in BackendRegistry.all { backends[b.name] = b.availability.reason.map { "unavailable: \($0)" } ?? "available" }
    return MachineFingerprint(cpuModel: model, isaFeatures: features, cores: ThreadPool.availableCores,
                              threads: threads, build: buildDescription, backends: backends)
  }

  public static var buildDescription: String {
    #if RESNET_BENCH_HOST_TUNED
    return "release, -Ounchecked -target-cpu native"
    #elseif DEBUG
    return "debug (kernels are unusably slow: build with -c release)"
    #else
    return "release without host tuning"
    #endif
  }

  /// A short stable identifier of the machine and build (not the thread count).
  public var id: String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
    let text = ([cpuModel] + isaFeatures + ["\(cores)", build]).joined(separator: "|")
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return String(hash, radix: 16)
  }

  public func report() -> String {
    var out = ""
    out += "cpu:        \(cpuModel)\n"
    out += "isa:        \(isaFeatures.joined(separator: " "))\n"
    out += "cores:      \(cores)\n"
    out += "threads:    \(threads)\n"
    out += "build:      \(build)\n"
    out += "fingerprint: \(id)\n"
    for name in BackendRegistry.names { out += "backend \(name): \(backends[name] ?? "?")\n" }
    return out
  }
}
