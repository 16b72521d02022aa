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
  /// OIHW: [outChannels][inChannels / groups][kernelHeight][kernelWidth].
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

  /// Why these weights cannot be used for `p`, or nil: the one check every
  /// backend relies on (see `ConvolutionBackend.prepare`), so no backend
  /// indexes past a short array.
  public func mismatch(for p: ConvProblem) -> String? {
    if weights.count != p.weightCount || bias.count != p.outChannels {
      return "\(weights.count) weights and \(bias.count) biases do not fit \(p.descriptor) "
        + "(it needs \(p.weightCount) weights, OIHW \(p.outChannels)×\(p.groupInChannels)×\(p.kernelHeight)×\(p.kernelWidth), and \(p.outChannels) biases)"
    }
    if let i = weights.firstIndex(where: { !$0.isFinite }) { return "weight \(i) of \(p.descriptor) is \(weights[i])" }
    if let i = bias.firstIndex(where: { !$0.isFinite }) { return "bias \(i) of \(p.descriptor) is \(bias[i])" }
    return nil
  }

  /// Reorders OIHW into O·H·W·I (channels of the group innermost), the order
  /// an NHWC direct loop or an NHWC im2col column reads them in.
  public func ohwi(for p: ConvProblem) -> [Float] {
    let (o, c, r, s) = (p.outChannels, p.groupInChannels, p.kernelHeight, p.kernelWidth)
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
///
/// Everything the rest of the project needs to know about a backend is a
/// requirement here (its tolerance, whether it may stand in for another, how
/// many whole-network repetitions it is worth, the library it binds), so no
/// caller tests a backend's name.
public protocol ConvolutionBackend: Sendable {
  /// Stable identifier used on the command line, in CSV and in plans (e.g. `im2col-openblas`).
  var name: String { get }
  /// One line for `--help` and reports.
  var summary: String { get }
  var availability: Availability { get }
  /// Whether this backend computes `problem`, or why not. Called only for valid problems.
  func supports(_ problem: ConvProblem) -> Support
  /// The tuner's search space for this shape on `machine`; the first entry is the default.
  func configurations(for problem: ConvProblem, machine: MachineModel) -> [BackendConfig]
  /// Packs weights for `config`. Called only through `prepare`, which has
  /// already checked the problem, the support and the weights' sizes; throws
  /// `BackendError` for an unknown configuration.
  func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  /// Largest acceptable error against the Float64 reference for this shape
  /// (see `ErrorMetric`).
  func tolerance(for problem: ConvProblem, config: BackendConfig) -> Double
  /// The bound on a whole network's logits when this backend computes some of its layers.
  var networkTolerance: Double { get }
  /// Position among the backends that stand in for a layer another backend
  /// cannot compute (lowest first); nil when it never stands in.
  var fallbackRank: Int? { get }
  /// Most timed whole-network repetitions worth spending on it (nil: no cap):
  /// a slow baseline is timed a few times, not a hundred.
  var networkRepetitionCap: Int? { get }
  /// What the library it calls reports about itself, as "Library.key" → value (none for pure Swift).
  var libraryDetails: [String: String] { get }
  /// Sets the thread count of any library the backend calls into.
  func setLibraryThreads(_ threads: Int)
}

extension ConvolutionBackend {
  public func configurations(for problem: ConvProblem, machine: MachineModel) -> [BackendConfig] { [.default] }
  public func tolerance(for problem: ConvProblem, config: BackendConfig) -> Double {
    Tolerance.direct(reductionLength: problem.reductionLength)
  }
  public var networkTolerance: Double { Tolerance.networkDirect }
  public var fallbackRank: Int? { nil }
  public var networkRepetitionCap: Int? { nil }
  public var libraryDetails: [String: String] { [:] }
  public func setLibraryThreads(_ threads: Int) {}
  public var summary: String { name }

  /// The search space on this machine.
  public func configurations(for problem: ConvProblem) -> [BackendConfig] {
    configurations(for: problem, machine: .current)
  }

  /// `supports` folded with `availability` and the shape's validity.
  public func canRun(_ problem: ConvProblem) -> Support {
    if let why = availability.reason { return .no(why) }
    if let why = problem.invalidReason { return .no(why) }
    return supports(problem)
  }

  /// The one way weights reach a backend: the problem must be valid and
  /// supported and the weights must fit it, checked here for every backend,
  /// before `pack` indexes them.
  public func prepare(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig,
                      machine: MachineModel = .current) throws -> PreparedConvolution {
    if case .no(let why) = canRun(problem) { throw BackendError("\(name) cannot run \(problem.descriptor): \(why)") }
    if let why = weights.mismatch(for: problem) { throw BackendError("\(name): \(why)") }
    return try pack(problem, weights: weights, config: config, machine: machine)
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
  /// Bytes of the weights (and bias) as packed for `run`: what one run
  /// streams from memory when they are not in cache. Winograd's transformed
  /// filters are α²/9 times the original's.
  var packedWeightBytes: Int { get }
  /// The buffers holding those weights, so that a measurement can evict them
  /// (`CacheEviction`) and time a run the way a layer runs inside a network,
  /// whose weights do not stay in any cache from one inference to the next.
  /// Every shipped backend lists them all (a test holds their size to
  /// `packedWeightBytes`); the default, for a backend that keeps none, is empty.
  var packedWeightBuffers: [AlignedBuffer] { get }
  /// True when `run` is correct with `output` and `residual` the same buffer:
  /// every output element is written only by the task that reads its
  /// residual element, after reading it, and nothing else reads the residual
  /// or writes the output before that. A network then writes a block's last
  /// convolution over its shortcut, whose lines are in cache for the
  /// residual read anyway, instead of fetching a second buffer's lines to
  /// overwrite them (`InferenceEngine`). The default is false.
  var residualInPlace: Bool { get }
}

extension PreparedConvolution {
  public var lastPhaseTimes: PhaseTimes? { nil }
  public var residualInPlace: Bool { false }
  public var packedWeightBuffers: [AlignedBuffer] { [] }
  public var packedWeightBytes: Int { (problem.weightCount + problem.outChannels) * MemoryLayout<Float>.stride }

  /// Bytes one run touches at least once: the packed weights, the input, the
  /// output (and the residual, when there is one), and the workspace it
  /// writes and reads back. A lower bound of its memory traffic when nothing
  /// is in cache, and what `run --layers` reports per layer.
  public func bytesTouched(residual: Bool) -> Int {
    let f = MemoryLayout<Float>.stride
    return packedWeightBytes + problem.inputCount * f + problem.outputCount * f * (residual ? 2 : 1) + 2 * workspaceBytes
  }
}
