import Foundation

/// What the kernels need to know about the CPU they run on, read from the
/// machine (`/proc/cpuinfo` and the cache descriptions in sysfs) once per
/// process: vector width and register count, cache sizes and geometry, cores.
///
/// Every block size and register tile is derived from these figures rather
/// than from constants that assume one CPU: machines of the same kind differ
/// (an AVX2 Zen 3 with 512 KiB of L2 per core, an AVX-512 Zen 4 with 1 MiB).
/// `env` prints the model and the fingerprint records it.
public struct MachineModel: Sendable, Codable, Equatable {
  /// The CPU's marketing name, e.g. "AMD EPYC 9R14"; a VM may report only "AMD EPYC".
  public var cpuName: String
  /// "family 25 model 17": names the microarchitecture when the name does not.
  public var cpuFamily: String
  /// The instruction-set features that decide which kernels are native here.
  public var isaFeatures: [String]
  /// Hardware threads this process may use.
  public var cores: Int
  /// Floats in one native SIMD register: 16 with AVX-512, 8 with AVX2, 4 otherwise.
  public var vectorFloats: Int
  /// Architectural vector registers: 32 with AVX-512, 16 with AVX/SSE.
  public var vectorRegisters: Int
  /// Per-core level-1 data cache, bytes.
  public var l1DataBytes: Int
  /// Sets and ways of the level-1 data cache (addresses `sets · line` bytes apart share a set).
  public var l1DataSets: Int
  public var l1DataWays: Int
  /// Per-core level-2 cache, bytes.
  public var l2Bytes: Int
  /// Last-level cache, bytes, and how many of this process's cores share it.
  public var l3Bytes: Int
  public var cacheLineBytes: Int

  public init(
    cpuName: String, cpuFamily: String, isaFeatures: [String], cores: Int, vectorFloats: Int, vectorRegisters: Int,
    l1DataBytes: Int, l1DataSets: Int, l1DataWays: Int, l2Bytes: Int, l3Bytes: Int, cacheLineBytes: Int
  ) {
    self.cpuName = cpuName
    self.cpuFamily = cpuFamily
    self.isaFeatures = isaFeatures
    self.cores = cores
    self.vectorFloats = vectorFloats
    self.vectorRegisters = vectorRegisters
    self.l1DataBytes = l1DataBytes
    self.l1DataSets = l1DataSets
    self.l1DataWays = l1DataWays
    self.l2Bytes = l2Bytes
    self.l3Bytes = l3Bytes
    self.cacheLineBytes = cacheLineBytes
  }

  /// The machine this process runs on, read once.
  public static let current = MachineModel(
    cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "",
    cacheRoot: "/sys/devices/system/cpu/cpu0/cache", cores: ProcessInfo.processInfo.activeProcessorCount)

  /// Figures used when the machine does not describe a cache (a container
  /// without sysfs, another OS): a common x86-64 server core.
  static let fallbackL1 = (bytes: 32 * 1024, sets: 64, ways: 8)
  static let fallbackL2 = 512 * 1024
  static let fallbackL3 = 8 * 1024 * 1024
  static let fallbackLine = 64

  /// Reads the model from the text of `/proc/cpuinfo` and the sysfs cache
  /// folders under `cacheRoot` (`index0` …, each with `level`, `type`, `size`,
  /// `number_of_sets`, `ways_of_associativity`, `coherency_line_size`).
  /// Anything missing or unreadable takes the fallback above; nothing traps.
  public init(cpuinfo: String, cacheRoot: String, cores: Int) {
    func field(_ name: String) -> String? {
      for line in cpuinfo.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
        return parts[1].trimmingCharacters(in: .whitespaces)
      }
      return nil
    }
    let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
    let features = ["fma", "avx2", "avx512f", "avx512bw", "avx512vl"].filter { flags.contains($0) }
    let wide = flags.contains("avx512f")
    var l1 = Self.fallbackL1, l2 = Self.fallbackL2, l3 = Self.fallbackL3, line = Self.fallbackLine
    for index in 0..<8 {
      let folder = "\(cacheRoot)/index\(index)"
      func read(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
      }
      guard let level = read("level").flatMap(Int.init), let type = read("type"),
            let size = read("size").flatMap(Self.parseSize)
      else { continue }
      if let l = read("coherency_line_size").flatMap(Int.init), l > 0 { line = l }
      switch (level, type) {
      case (1, "Data"):
        let sets = read("number_of_sets").flatMap(Int.init) ?? 0
        let ways = read("ways_of_associativity").flatMap(Int.init) ?? 0
        l1 = (size, sets > 0 ? sets : Self.fallbackL1.sets, ways > 0 ? ways : Self.fallbackL1.ways)
      case (2, _): l2 = size
      case (3, _): l3 = size
      default: break
      }
    }
    self.init(
      cpuName: field("model name") ?? "unknown",
      cpuFamily: "family \(field("cpu family") ?? "?") model \(field("model") ?? "?")",
      isaFeatures: features, cores: max(1, cores),
      vectorFloats: wide ? 16 : (flags.contains("avx2") || flags.contains("avx") ? 8 : 4),
      vectorRegisters: wide ? 32 : 16,
      l1DataBytes: l1.bytes, l1DataSets: l1.sets, l1DataWays: l1.ways, l2Bytes: l2, l3Bytes: l3, cacheLineBytes: line)
  }

  /// "32K", "1024K", "32M" or a plain byte count.
  static func parseSize(_ text: String) -> Int? {
    let scale: Int
    var digits = Substring(text)
    switch text.last {
    case "K": scale = 1 << 10; digits = digits.dropLast()
    case "M": scale = 1 << 20; digits = digits.dropLast()
    case "G": scale = 1 << 30; digits = digits.dropLast()
    default: scale = 1
    }
    guard let n = Int(digits), n > 0 else { return nil }
    let (bytes, overflow) = n.multipliedReportingOverflow(by: scale)
    return overflow ? nil : bytes
  }

  /// Bytes between two addresses that map to the same level-1 set (one way's size).
  public var l1AliasingBytes: Int { l1DataSets * cacheLineBytes }

  /// One line per figure, for `env`.
  public func report() -> String {
    func kib(_ b: Int) -> String { b >= 1 << 20 && b % (1 << 20) == 0 ? "\(b >> 20) MiB" : "\(b >> 10) KiB" }
    return """
      vector:     \(vectorFloats) floats per register, \(vectorRegisters) registers
      caches:     L1d \(kib(l1DataBytes)) (\(l1DataSets) sets × \(l1DataWays) ways × \(cacheLineBytes) B), L2 \(kib(l2Bytes)) per core, L3 \(kib(l3Bytes))

      """
  }
}
