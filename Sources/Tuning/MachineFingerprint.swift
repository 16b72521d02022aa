import ConvBackends
import ConvCore
import Foundation

/// What a measurement depends on: the CPU and its caches, the build and the
/// libraries. Plans, CSV rows and JSON files carry its `id` so results from
/// different machines are never mixed.
public struct MachineFingerprint: Codable, Sendable, Equatable {
  public var cpuModel: String
  /// "family 25 model 17" (from /proc/cpuinfo): names the microarchitecture
  /// when the model string does not (a VM may report only "AMD EPYC").
  public var cpuFamily: String
  /// The ISA features that matter here: fma, avx2, avx512f, ….
  public var isaFeatures: [String]
  public var cores: Int
  public var threads: Int
  /// "release, kernels -Ounchecked, -target-cpu native" or "debug".
  public var build: String
  /// Per backend: "available" or the reason it is not.
  public var backends: [String: String]
  /// Library facts: "OpenBLAS.file", "OpenBLAS.core", "BLIS.arch", "BLIS.bli_sgemm" (the file defining it), …
  public var libraries: [String: String]
  /// Vector width, registers and caches, as the kernels see them (absent in plans of schema 1).
  public var machine: MachineModel?

  public static func current(threads: Int) -> MachineFingerprint {
    let model = MachineModel.current
    var backends: [String: String] = [:]
    for b in BackendRegistry.all { backends[b.name] = b.availability.reason.map { "unavailable: \($0)" } ?? "available" }
    return MachineFingerprint(cpuModel: model.cpuName, cpuFamily: model.cpuFamily, isaFeatures: model.isaFeatures,
                              cores: model.cores, threads: threads, build: buildDescription, backends: backends,
                              libraries: BackendRegistry.libraryDetails, machine: model)
  }

  public static var buildDescription: String {
    #if RESNET_BENCH_HOST_TUNED
    return "release, -target-cpu native, kernels -Ounchecked, everything else checked"
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
    var facts = [cpuModel, cpuFamily] + isaFeatures + ["\(cores)", build] + libraryFacts
    if let m = machine { facts += ["\(m.vectorFloats)x\(m.vectorRegisters)", "\(m.l1DataBytes)/\(m.l2Bytes)/\(m.l3Bytes)"] }
    for byte in facts.joined(separator: "|").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return String(hash, radix: 16)
  }

  public func report() -> String {
    var out = ""
    out += "cpu:        \(cpuModel) (\(cpuFamily))\n"
    out += "isa:        \(isaFeatures.joined(separator: " "))\n"
    out += "cores:      \(cores)\n"
    out += "threads:    \(threads)\n"
    if let machine { out += machine.report() }
    out += "build:      \(build)\n"
    out += "fingerprint: \(id)\n"
    for (key, value) in libraries.sorted(by: { $0.key < $1.key }) { out += "\(key): \(value)\n" }
    for name in BackendRegistry.names { out += "backend \(name): \(backends[name] ?? "?")\n" }
    return out
  }
}
