import ConvBackends
import ConvCore
import Foundation

/// What a measurement depends on: the CPU, the build and the libraries.
/// Plans and CSV rows carry its `id` so results from different machines are never mixed.
public struct MachineFingerprint: Codable, Sendable, Equatable {
  public var cpuModel: String
  /// "family 25 model 17" (from /proc/cpuinfo): names the microarchitecture
  /// when the model string does not (a VM may report only "AMD EPYC").
  public var cpuFamily: String
  /// The ISA features that matter here: fma, avx2, avx512f.
  public var isaFeatures: [String]
  public var cores: Int
  public var threads: Int
  /// "release, -Ounchecked -target-cpu native" or "debug".
  public var build: String
  /// Per backend: "available" or the reason it is not.
  public var backends: [String: String]
  /// Library facts: "OpenBLAS.file", "OpenBLAS.core", "BLIS.arch", "BLIS.bli_sgemm" (the file defining it), …
  public var libraries: [String: String]

  public static func current(threads: Int) -> MachineFingerprint {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
    func field(_ name: String) -> String {
      info.split(separator: "\n").first { $0.hasPrefix(name) }
        .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "?"
    }
    let family = "family \(field("cpu family")) model \(field("model\t"))"
    let flagsLine = info.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    let features = ["fma", "avx2", "avx512f"].filter { flags.contains($0) }
    var backends: [String: String] = [:]
    for b in BackendRegistry.all { backends[b.name] = b.availability.reason.map { "unavailable: \($0)" } ?? "available" }
    return MachineFingerprint(cpuModel: model, cpuFamily: family, isaFeatures: features, cores: ThreadPool.availableCores,
                              threads: threads, build: buildDescription, backends: backends,
                              libraries: BackendRegistry.libraryDetails)
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

  /// A short stable identifier of the machine, build and library kernels (not
  /// the thread count, not file paths): equal ids mean results are comparable.
  public var id: String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
    let libraryFacts = libraries.filter { !$0.key.hasSuffix(".file") && !$0.key.contains("sgemm") }
      .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let text = ([cpuModel, cpuFamily] + isaFeatures + ["\(cores)", build] + libraryFacts).joined(separator: "|")
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return String(hash, radix: 16)
  }

  public func report() -> String {
    var out = ""
    out += "cpu:        \(cpuModel) (\(cpuFamily))\n"
    out += "isa:        \(isaFeatures.joined(separator: " "))\n"
    out += "cores:      \(cores)\n"
    out += "threads:    \(threads)\n"
    out += "build:      \(build)\n"
    out += "fingerprint: \(id)\n"
    for (key, value) in libraries.sorted(by: { $0.key < $1.key }) { out += "\(key): \(value)\n" }
    for name in BackendRegistry.names { out += "backend \(name): \(backends[name] ?? "?")\n" }
    return out
  }
}
