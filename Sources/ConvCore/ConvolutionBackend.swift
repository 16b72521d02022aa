/// Whether a backend can run on this machine at all.
public enum Availability: Equatable, Sendable {
  case available
  /// The reason, e.g. "libblis.so.4 not found (install libblis-dev)".
  case unavailable(String)

  public var isAvailable: Bool { self == .available }
  public var reason: String? {
    if case .unavailable(let why) = self { return why }
    return nil
  }
}

/// Whether a backend can compute a particular shape.
public enum Support: Equatable, Sendable {
  case yes
  /// The reason, e.g. "Winograd F(m×m,3×3) needs a 3×3 kernel with stride 1".
  case no(String)

  public var isSupported: Bool { self == .yes }
  public var reason: String? {
    if case .no(let why) = self { return why }
    return nil
  }
}

/// Convolution weights as checkpoints store them, after BatchNorm folding.
public struct ConvWeights: Sendable {
  /// OIHW: [outChannels][inChannels][kernelHeight][kernelWidth].
  public var weights: [Float]
  /// One value per output channel.
  public var bias: [Float]

  public init(weights: [Float], bias: [Float]) {
    self.weights = weights
    self.bias = bias
  }

  /// Seeded He-normal weights (std = √(2 / fan-in)) and a small random bias, for tests and `conv`.
  public static func random(for p: ConvProblem, seed: UInt64) -> ConvWeights {
    var rng = SeededGenerator(seed: seed)
    let std = (2.0 / Double(p.reductionLength)).squareRoot()
    return ConvWeights(
      weights: rng.normals(p.weightCount, std: std),
      bias: rng.normals(p.outChannels, std: 0.1))
  }

  /// Reorders OIHW into O·H·W·I (channels innermost), the order an NHWC
  /// direct loop or an NHWC im2col column reads them in.
  public func ohwi(for p: ConvProblem) -> [Float] {
    let (o, c, r, s) = (p.outChannels, p.inChannels, p.kernelHeight, p.kernelWidth)
    var out = [Float](repeating: 0, count: o * r * s * c)
    for oc in 0..<o { for ic in 0..<c { for kh in 0..<r { for kw in 0..<s {
      out[((oc * r + kh) * s + kw) * c + ic] = weights[((oc * c + ic) * r + kh) * s + kw]
    } } } }
    return out
  }
}

/// A backend's tuning knobs for one shape: named integers (tile sizes, block
/// sizes, Winograd output tile). The empty configuration is the backend's default.
///
/// Printed and parsed as `key=value,key=value` with keys sorted, e.g. `m=4`;
/// `default` when empty. Plans store this string.
public struct BackendConfig: Hashable, Codable, Sendable, CustomStringConvertible {
  public var parameters: [String: Int]

  public init(_ parameters: [String: Int] = [:]) { self.parameters = parameters }

  public static let `default` = BackendConfig()

  public subscript(key: String) -> Int? { parameters[key] }

  public var description: String {
    if parameters.isEmpty { return "default" }
    return parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
  }

  /// Parses `default` or `key=value,…`; nil if malformed.
  public init?(parsing text: String) {
    if text == "default" || text.isEmpty { self.init(); return }
    var parameters: [String: Int] = [:]
    for part in text.split(separator: ",") {
      let kv = part.split(separator: "=", omittingEmptySubsequences: false)
      guard kv.count == 2, !kv[0].isEmpty, let value = Int(kv[1]), parameters[String(kv[0])] == nil else { return nil }
      parameters[String(kv[0])] = value
    }
    self.init(parameters)
  }

  public init(from decoder: Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let parsed = BackendConfig(parsing: text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "malformed backend configuration '\(text)'"))
    }
    self = parsed
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// An error a backend raises when asked for something it cannot do.
public struct BackendError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Per-phase times of the last run, for backends that have distinct phases
/// (Winograd: input transform, products, output transform), in seconds.
public struct PhaseTimes: Sendable {
  public var phases: [(name: String, seconds: Double)]
  public init(_ phases: [(name: String, seconds: Double)]) { self.phases = phases }
}

/// A convolution algorithm. Backends are stateless descriptions; `prepare`
/// does the per-layer work (weight packing) once, outside anything timed.
public protocol ConvolutionBackend: Sendable {
  /// Stable identifier used on the command line, in CSV and in plans (e.g. `im2col-openblas`).
  var name: String { get }
  /// One line for `--help` and reports.
  var summary: String { get }
  var availability: Availability { get }
  func supports(_ problem: ConvProblem) -> Support
  /// The tuner's search space for this shape; the first entry is the default.
  func configurations(for problem: ConvProblem) -> [BackendConfig]
  /// Packs weights for `config`; throws `BackendError` for an unknown configuration.
  func prepare(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig) throws -> PreparedConvolution
  /// Largest acceptable error against the Float64 reference for this shape
  /// (see `ErrorMetric`).
  func tolerance(for problem: ConvProblem, config: BackendConfig) -> Double
  /// Sets the thread count of any library the backend calls into.
  func setLibraryThreads(_ threads: Int)
}

extension ConvolutionBackend {
  public func configurations(for problem: ConvProblem) -> [BackendConfig] { [.default] }
  public func tolerance(for problem: ConvProblem, config: BackendConfig) -> Double {
    Tolerance.direct(reductionLength: problem.reductionLength)
  }
  public func setLibraryThreads(_ threads: Int) {}
  public var summary: String { name }

  /// `supports` folded with `availability` and the shape's validity.
  public func canRun(_ problem: ConvProblem) -> Support {
    if let why = availability.reason { return .no(why) }
    if let why = problem.invalidReason { return .no(why) }
    return supports(problem)
  }
}

/// A convolution with its weights packed, ready to run any number of times.
///
/// `run` computes, for every output element (NHWC),
/// `y = act(Σ w·x + bias + residual)` with `act` = ReLU when `relu` is set:
/// the epilogue is part of the backend's own output pass. It allocates nothing:
/// scratch space comes from `workspace` (`workspaceBytes` bytes, 64-byte aligned).
public protocol PreparedConvolution: AnyObject, Sendable {
  var problem: ConvProblem { get }
  var config: BackendConfig { get }
  var workspaceBytes: Int { get }
  /// - Parameters:
  ///   - input: NHWC [batch, inHeight, inWidth, inChannels].
  ///   - output: NHWC [batch, outHeight, outWidth, outChannels].
  ///   - residual: nil, or NHWC of the output's shape, added before the activation.
  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool)
  /// Phase breakdown of the last run, when the backend measures one.
  var lastPhaseTimes: PhaseTimes? { get }
}

extension PreparedConvolution {
  public var lastPhaseTimes: PhaseTimes? { nil }
}
