import ConvBackends
import ConvCore
import Foundation
import Measurement
import ResNet

/// The autotuner's result: for every distinct convolution shape of a model,
/// the backend and configuration to use, with the evidence (every candidate's
/// time and error). Written by `tune` as JSON, read by `run --plan`.
public struct Plan: Codable, Sendable {
  /// Bumped whenever a field changes meaning; a plan of another version is refused.
  /// Version 2 added the tie information (`tied`, `ratioToFastest`, …) and the
  /// machine load; version 1 plans (without them) are still read.
  public static let currentSchemaVersion = 2
  public static let readableSchemaVersions = 1...2

  public var schemaVersion: Int
  /// The machine and build the plan was measured on.
  public var fingerprint: MachineFingerprint
  /// `fingerprint.id`, repeated so a reader can match plans without recomputing it.
  public var fingerprintId: String
  public var model: String
  public var variant: String
  public var batch: Int
  public var inputSize: Int
  public var classes: Int
  public var threads: Int
  /// ISO 8601, UTC.
  public var createdAt: String
  /// The `--budget` the search ran under, seconds; and how long it took.
  public var budgetSeconds: Double
  public var elapsedSeconds: Double
  /// The `--max-error` override, or nil when each backend's own tolerance applied.
  public var maxError: Double?
  public var shapes: [ShapePlan]
  /// The in-network check that followed the per-shape search; absent when it was skipped.
  public var refinement: Refinement?
  /// How busy the machine was while the plan was measured (absent in version 1).
  public var load: MachineLoad?
  /// True when every candidate was timed with its packed weights evicted from
  /// the caches first (`tune`'s default), false with `--warm-weights`; absent
  /// in plans written before the option existed (they were timed warm).
  public var coldWeights: Bool?

  /// Whole-network timings behind the in-network check (see `Tuner`).
  public struct Refinement: Codable, Sendable {
    /// Median end-to-end milliseconds of each engine timed side by side:
    /// `plan (per shape)` (the per-shape choices) and every backend alone.
    public var networkMs: [String: Double]
    /// Shapes whose choice changed because another engine ran them faster inside the network.
    public var changedShapes: Int
    /// Interleaved rounds timed.
    public var rounds: Int
  }

  /// One distinct convolution shape.
  public struct ShapePlan: Codable, Sendable {
    /// benchdnn descriptor, e.g. `mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1`.
    public var descriptor: String
    /// torchvision names of the layers with this shape.
    public var layers: [String]
    public var backend: String
    public var config: String
    /// Every candidate considered, in the order measured.
    public var candidates: [Candidate]
  }

  /// One backend × configuration on one shape.
  public struct Candidate: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
      /// The choice: the fastest accepted candidate, or among the candidates
      /// tied with it, the first by `Tuner.preference`.
      case chosen
      /// Correct and fully timed, but not chosen (slower, or tied and later in preference).
      case accepted
      /// Error beyond the accuracy budget.
      case rejected
      /// The backend cannot compute this shape (or is unavailable).
      case unsupported
      /// Timed once, slower than `Tuner.dropFactor` × the best: not timed further.
      case dropped
      /// Not measured because the budget ran out.
      case skipped
    }
    public var backend: String
    public var config: String
    public var status: Status
    /// Median time of the timed runs, milliseconds; nil when not timed.
    public var medianMs: Double?
    /// Direct-convolution FLOPs ÷ median time, GFLOP/s.
    public var gflops: Double?
    /// Error against the Float64 reference (see ErrorMetric); nil when not run.
    public var maxError: Double?
    /// The accuracy budget applied to this candidate.
    public var tolerance: Double?
    /// Timed runs behind `medianMs`.
    public var repetitions: Int
    /// Why it was rejected, unsupported, dropped or skipped; for the chosen
    /// one, why it was chosen when it is not the fastest.
    public var reason: String?
    /// Its time ÷ the fastest candidate's, paired round by round (Hodges–Lehmann,
    /// see `RatioEstimate`), with its interval at `ratioConfidence`; absent
    /// for the fastest itself.
    public var ratioToFastest: Double?
    public var ratioLow: Double?
    public var ratioHigh: Double?
    /// The interval's confidence: 95% for the shape's comparisons together
    /// (Bonferroni over the candidates compared with the fastest).
    public var ratioConfidence: Double?
    /// The interval reaches within `Tuner.tieMargin` of no difference: the
    /// measurements cannot tell this candidate from the fastest.
    public var tied: Bool?

    public init(backend: String, config: String, status: Status, medianMs: Double? = nil, gflops: Double? = nil,
                maxError: Double? = nil, tolerance: Double? = nil, repetitions: Int = 0, reason: String? = nil,
                ratioToFastest: Double? = nil, ratioLow: Double? = nil, ratioHigh: Double? = nil,
                ratioConfidence: Double? = nil, tied: Bool? = nil) {
      self.backend = backend
      self.config = config
      self.status = status
      self.medianMs = medianMs
      self.gflops = gflops
      self.maxError = maxError
      self.tolerance = tolerance
      self.repetitions = repetitions
      self.reason = reason
      self.ratioToFastest = ratioToFastest
      self.ratioLow = ratioLow
      self.ratioHigh = ratioHigh
      self.ratioConfidence = ratioConfidence
      self.tied = tied
    }
  }

  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }

  /// Reads and validates a plan file; errors are one line naming the problem.
  public static func load(from url: URL) throws -> Plan {
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw PlanError("\(url.path): cannot read (\(error.localizedDescription))") }
    return try decode(data, source: url.path)
  }

  public static func decode(_ data: Data, source: String = "plan") throws -> Plan {
    if data.isEmpty { throw PlanError("\(source): empty file") }
    if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
       let version = object["schemaVersion"] as? Int, !readableSchemaVersions.contains(version) {
      throw unsupportedVersion(version, source: source)
    }
    let plan: Plan
    do { plan = try JSONDecoder().decode(Plan.self, from: data) } catch let error as DecodingError {
      throw PlanError("\(source): \(describe(error))")
    } catch {
      throw PlanError("\(source): malformed JSON (\(error.localizedDescription))")
    }
    // Checked again on the decoded value: the check above is skipped when
    // JSONSerialization refuses a document JSONDecoder accepts (duplicate keys).
    guard readableSchemaVersions.contains(plan.schemaVersion) else { throw unsupportedVersion(plan.schemaVersion, source: source) }
    var seen = Set<String>()
    for shape in plan.shapes {
      do { _ = try ConvProblem(descriptor: shape.descriptor) } catch let e as DescriptorError {
        throw PlanError("\(source): shape '\(shape.descriptor)': \(e.message)")
      }
      guard seen.insert(shape.descriptor).inserted else { throw PlanError("\(source): shape '\(shape.descriptor)' appears twice") }
      guard BackendConfig(parsing: shape.config) != nil else {
        throw PlanError("\(source): shape '\(shape.descriptor)' has a malformed config '\(printable(shape.config))'")
      }
    }
    return plan
  }

  private static func unsupportedVersion(_ version: Int, source: String) -> PlanError {
    PlanError("\(source): schema version \(version) is not supported (this build reads versions \(readableSchemaVersions.lowerBound)–\(readableSchemaVersions.upperBound))")
  }

  private static func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
      return p.isEmpty ? "top level" : String(p.drop { $0 == "." })
    }
    switch error {
    case .dataCorrupted(let c): return c.codingPath.isEmpty ? "malformed or truncated JSON" : "bad value at \(path(c)): \(c.debugDescription)"
    case .keyNotFound(let key, let c): return "missing field '\(key.stringValue)' at \(path(c))"
    case .typeMismatch(_, let c): return "wrong type at \(path(c)): \(c.debugDescription)"
    case .valueNotFound(_, let c): return "missing value at \(path(c))"
    @unknown default: return "malformed plan"
    }
  }

  /// The choice for `problem`, if the plan has its shape (matched as a
  /// problem, so a descriptor written with other defaults still matches).
  public func choice(for problem: ConvProblem) -> ShapePlan? {
    shapes.first { (try? ConvProblem(descriptor: $0.descriptor)) == problem }
  }

  /// Whether this plan can run `model` here: the one compatibility check
  /// behind `run --plan`, `tune --plan`, `soak --plan` and `--plan auto`.
  /// Another model, variant, batch, size or class count, a shape the plan
  /// lacks, or a backend or configuration this build does not know make it
  /// unusable; another machine, build or thread count makes it usable with a
  /// warning (its choices may not be the fastest here).
  public func compatibility(with model: ResNetModel, fingerprint: MachineFingerprint) -> PlanCompatibility {
    do { _ = try assignment(for: model) } catch let e as PlanError { return .incompatible(e.message) } catch {
      return .incompatible("\(error)")
    }
    if fingerprintId != fingerprint.id || threads != fingerprint.threads {
      return .otherMachine("measured on machine \(fingerprintId) with \(threads) threads; this is \(fingerprint.id) with \(fingerprint.threads) threads")
    }
    return .compatible
  }

  /// Every layer's backend and configuration, in `model.layers` order; throws
  /// `PlanError` naming the first mismatch.
  public func assignment(for model: ResNetModel) throws -> [(backend: any ConvolutionBackend, config: BackendConfig)] {
    let mismatch: [(String, String, String)] = [
      ("model", self.model, model.name), ("variant", variant, model.variant.rawValue),
      ("batch", "\(batch)", "\(model.batch)"), ("input size", "\(inputSize)", "\(model.inputSize)"),
      ("classes", "\(classes)", "\(model.classes)"),
    ].filter { $0.1 != $0.2 }
    if let (field, planned, wanted) = mismatch.first {
      throw PlanError("plan is for \(field) \(planned), but this run uses \(wanted)")
    }
    var byShape: [ConvProblem: ShapePlan] = [:]
    for shape in shapes {
      if let p = try? ConvProblem(descriptor: shape.descriptor) { byShape[p] = byShape[p] ?? shape }
    }
    return try model.layers.map { layer in
      guard let shape = byShape[layer.problem] else {
        throw PlanError("plan has no entry for shape \(layer.problem.descriptor) (layer \(layer.name))")
      }
      guard let backend = BackendRegistry.named(shape.backend) else {
        throw PlanError("plan names unknown backend '\(printable(shape.backend))' for \(shape.descriptor); known: \(BackendRegistry.names.joined(separator: ", "))")
      }
      guard let config = BackendConfig(parsing: shape.config) else {
        throw PlanError("plan has a malformed configuration '\(printable(shape.config))' for \(shape.descriptor)")
      }
      if config != .default && !backend.configurations(for: layer.problem).contains(config) {
        // A configuration the search space no longer lists may still be one
        // the backend accepts (another machine's vector width): ask it.
        if backend.availability.isAvailable,
           (try? backend.prepare(layer.problem, weights: .random(for: layer.problem, seed: 0), config: config)) == nil {
          throw PlanError("plan names configuration '\(printable(shape.config))' that \(backend.name) does not offer for \(shape.descriptor)")
        }
      }
      return (backend, config)
    }
  }
}

/// The answer of `Plan.compatibility`.
public enum PlanCompatibility: Equatable, Sendable {
  case compatible
  /// Usable, with this warning.
  case otherMachine(String)
  /// Not usable, for this reason.
  case incompatible(String)
}

/// A plan that cannot be used; the message is one line.
public struct PlanError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
