import ConvBackends
import ConvCore
import Foundation
import ResNet
@testable import Tuning
import Measurement
import XCTest

final class PlanTests: XCTestCase {
  private func fingerprint() -> MachineFingerprint { MachineFingerprint.current(threads: 1) }

  private func samplePlan(model: ResNetModel) -> Plan {
    let shapes = model.distinctShapes.map { shape in
      Plan.ShapePlan(descriptor: shape.problem.descriptor, layers: shape.layers, backend: "naive", config: "default",
                     candidates: [.init(backend: "naive", config: "default", status: .chosen, medianMs: 1.5, gflops: 2,
                                        maxError: 1e-6, tolerance: 1e-4, repetitions: 3)])
    }
    let fp = fingerprint()
    return Plan(schemaVersion: Plan.currentSchemaVersion, fingerprint: fp, fingerprintId: fp.id, model: model.name,
                variant: model.variant.rawValue, batch: model.batch, inputSize: model.inputSize, classes: model.classes,
                threads: 1, createdAt: "2026-01-01T00:00:00Z", budgetSeconds: 1, elapsedSeconds: 0.5, maxError: nil, shapes: shapes)
  }

  func testEncodeDecodeRoundTrip() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    let plan = samplePlan(model: model)
    let decoded = try Plan.decode(plan.encoded())
    XCTAssertEqual(try decoded.encoded(), try plan.encoded())
    XCTAssertEqual(decoded.shapes.count, model.distinctShapes.count)
    XCTAssertEqual(decoded.shapes[0].candidates[0], plan.shapes[0].candidates[0])
    XCTAssertEqual(try decoded.assignment(for: model).count, model.layers.count)
  }

  func testSelectionRejectsInaccurateAndBreaksTiesByOrder() {
    typealias C = Plan.Candidate
    let candidates: [C] = [
      C(backend: "fast-but-wrong", config: "default", status: .rejected, medianMs: 0.5, maxError: 1, tolerance: 1e-4, reason: "error"),
      C(backend: "a", config: "default", status: .accepted, medianMs: 2.0, maxError: 1e-6, tolerance: 1e-4),
      C(backend: "b", config: "x=1", status: .accepted, medianMs: 1.0, maxError: 1e-6, tolerance: 1e-4),
      C(backend: "c", config: "default", status: .accepted, medianMs: 1.0, maxError: 1e-6, tolerance: 1e-4),
      C(backend: "d", config: "-", status: .unsupported, reason: "3×3 only"),
      C(backend: "e", config: "default", status: .dropped, medianMs: 0.9, reason: "slow first run"),
    ]
    let decided = Tuner.decide(candidates)
    XCTAssertEqual(decided.filter { $0.status == .chosen }.map(\.backend), ["b"], "lowest accepted median, first on a tie")
    XCTAssertEqual(decided[0].status, .rejected)
    XCTAssertEqual(decided[4].status, .unsupported)
    XCTAssertTrue(Tuner.decide([candidates[0], candidates[4]]).allSatisfy { $0.status != .chosen }, "nothing acceptable, nothing chosen")
  }

  /// Among the fastest and the candidates tied with it, the choice is a
  /// backend's default configuration first, then registry order — whatever
  /// the medians' order — so a re-tune that reorders tied medians reproduces it.
  func testTiedCandidatesResolveByPreferenceNotByNoise() {
    typealias C = Plan.Candidate
    func list(_ medians: (Double, Double, Double, Double)) -> [C] {
      [
        C(backend: "tiled-simd", config: "kc=0,mr=6,nr=2,split=0,v=8", status: .accepted, medianMs: medians.0, tied: true),
        C(backend: "tiled-simd", config: "kc=0,mr=4,nr=3,split=0,v=8", status: .accepted, medianMs: medians.1, tied: true),
        C(backend: "winograd", config: "m=4,split=0,tiles=8", status: .accepted, medianMs: medians.2, tied: true),
        C(backend: "im2col-openblas", config: "rows=0", status: .accepted, medianMs: medians.3, tied: false),
      ]
    }
    // Whichever of the three tied candidates measured fastest, the same one is chosen.
    for medians in [(1.00, 0.99, 0.98, 1.5), (0.98, 1.00, 0.99, 1.5), (0.99, 0.98, 1.00, 1.5)] {
      var candidates = list(medians)
      let fastest = [medians.0, medians.1, medians.2].firstIndex(of: min(medians.0, medians.1, medians.2))!
      candidates[fastest].tied = nil
      let decided = Tuner.decide(candidates)
      XCTAssertEqual(decided.filter { $0.status == .chosen }.map(\.config), ["kc=0,mr=6,nr=2,split=0,v=8"], "\(medians)")
    }
    // A candidate that is clearly slower is never chosen by preference.
    var clear = list((1.20, 1.10, 1.00, 1.5))
    clear[0].tied = false
    clear[1].tied = false
    clear[2].tied = nil
    XCTAssertEqual(Tuner.decide(clear).filter { $0.status == .chosen }.map(\.backend), ["winograd"])
  }

  /// A candidate far slower than the fastest is not tied with it even when
  /// the interval cannot be bounded (a shape with 26 candidates puts each at
  /// 99.8%, beyond what 9 pairs reach): 1.4× the fastest over 9 noisy pairs
  /// is not tied; 1.02× is; 1.2× with a bounded interval above 1.01 is not.
  func testFarSlowerIsNeverTiedEvenWhenTheIntervalIsUnbounded() {
    let base = (0..<9).map { 1 + 0.2 * Double(($0 * 5) % 7) / 7 }
    let slower = base.enumerated().map { $1 * 1.4 * (1 + 0.3 * Double(($0 * 3) % 5 - 2) / 5) }
    let wide = RatioEstimate.paired(base: base, candidate: slower, confidence: 0.998)
    XCTAssertFalse(wide.isBounded, "9 pairs cannot bound a 99.8% interval")
    XCTAssertGreaterThan(wide.ratio, 1.3)
    XCTAssertFalse(Tuner.isTied(wide))
    let close = RatioEstimate.paired(base: base, candidate: base.map { $0 * 1.02 }, confidence: 0.998)
    XCTAssertTrue(Tuner.isTied(close))
    let bounded = RatioEstimate.paired(base: base, candidate: base.enumerated().map { $1 * (1.2 + 0.001 * Double($0)) })
    XCTAssertTrue(bounded.isBounded)
    XCTAssertFalse(Tuner.isTied(bounded))
  }

  /// A plan records whether its candidates were timed with cold weights;
  /// a plan written before the field (nil) reads as warm.
  func testColdWeightsRoundTrip() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    var plan = samplePlan(model: model)
    XCTAssertNil(try Plan.decode(plan.encoded()).coldWeights)
    plan.coldWeights = true
    XCTAssertEqual(try Plan.decode(plan.encoded()).coldWeights, true)
  }

  /// The fewest rounds the tuner times must be able to tell candidates
  /// apart: a candidate consistently 10% slower over `minimumRounds` pairs
  /// must not come out tied (with 5 pairs every candidate would).
  func testMinimumRoundsCanSeparateCandidates() {
    let n = Tuner.minimumRounds
    let fastest = (0..<n).map { 1 + 0.003 * Double(($0 * 7) % 5) }
    let slower = fastest.enumerated().map { $1 * (1.10 + 0.004 * Double(($0 * 3) % 4)) }
    let r = RatioEstimate.paired(base: fastest, candidate: slower)
    XCTAssertTrue(r.isBounded)
    XCTAssertGreaterThan(r.low, 1 + Tuner.tieMargin)
  }

  /// `tune --against`: the incumbent stays only when the new plan is slower
  /// with the interval above 1; a tie or a faster new plan is written.
  func testTheIncumbentStaysOnlyWhenTheNewPlanIsSlower() {
    let incumbent = (0..<20).map { 30 + 0.7 * Double(($0 * 7) % 11) }
    let jitter = (0..<20).map { 0.004 * Double(($0 * 3) % 5) - 0.008 }
    let slower = zip(incumbent, jitter).map { $0 * (1.03 + $1) }
    let keep = Tuner.keepsIncumbent(incumbent: incumbent, new: slower)
    XCTAssertTrue(keep.keep, "\(keep.estimate)")
    XCTAssertGreaterThan(keep.estimate.low, 1)
    let tied = zip(incumbent, jitter).map { $0 * (1 + 2.5 * $1) }
    XCTAssertFalse(Tuner.keepsIncumbent(incumbent: incumbent, new: tied).keep)
    let faster = zip(incumbent, jitter).map { $0 * (0.97 + $1) }
    XCTAssertFalse(Tuner.keepsIncumbent(incumbent: incumbent, new: faster).keep)
    XCTAssertFalse(Tuner.keepsIncumbent(incumbent: [], new: []).keep, "no rounds: nothing to go on, the new plan is written")
  }

  /// The in-network check moves a shape to a candidate the per-shape search
  /// found tied on the shape's own 95% interval, and to one it found slower
  /// only on an interval over every shape that may move. Twelve rounds, ten
  /// of them 6–11% faster inside the network and two 4–5% slower: bounded
  /// below 0.99 at 95%, not at 1 − 5%/21.
  func testInNetworkMoveAsksLessOfACandidateTiedAlone() {
    let base = (0..<12).map { 1 + 0.01 * Double(($0 * 5) % 7) }
    let logRatios = [-0.09, -0.08, -0.10, -0.07, -0.09, -0.08, -0.11, -0.06, -0.09, 0.04, 0.05, -0.08]
    let candidate = zip(base, logRatios).map { $0 * exp($1) }
    let tied = Tuner.inNetworkMove(base: base, candidate: candidate, tiedAlone: true, shapes: 21)
    XCTAssertTrue(tied.moves, "\(tied.estimate)")
    XCTAssertEqual(tied.confidence, 1 - Tuner.tieRisk)
    let slower = Tuner.inNetworkMove(base: base, candidate: candidate, tiedAlone: false, shapes: 21)
    XCTAssertFalse(slower.moves, "\(slower.estimate)")
    XCTAssertEqual(slower.confidence, 1 - Tuner.tieRisk / 21, accuracy: 1e-12)
    // A difference within the margin moves nothing, tied or not.
    let marginal = base.map { $0 * 0.995 }
    XCTAssertFalse(Tuner.inNetworkMove(base: base, candidate: marginal, tiedAlone: true, shapes: 21).moves)
    // Nor does a slower candidate.
    XCTAssertFalse(Tuner.inNetworkMove(base: candidate, candidate: base, tiedAlone: true, shapes: 1).moves)
  }

  /// The in-network check's extra engine runs, per shape, the fastest of the
  /// candidates tied with the choice alone: not the chosen one itself, not
  /// one found slower, dropped or beyond its tolerance.
  func testTiedAlternativeIsTheFastestOtherTiedAccurateCandidate() {
    func candidate(_ config: String, _ status: Plan.Candidate.Status, _ ms: Double, ratio: Double?, tied: Bool?,
                   error: Double = 1e-6) -> Plan.Candidate {
      Plan.Candidate(backend: "tiled-simd", config: config, status: status, medianMs: ms, maxError: error, tolerance: 1e-4,
                     repetitions: 8, ratioToFastest: ratio, tied: tied)
    }
    let chosen = candidate("a", .chosen, 1.02, ratio: 1.02, tied: true)
    let fastest = candidate("b", .accepted, 1.00, ratio: nil, tied: nil)
    let tiedSlower = candidate("c", .accepted, 1.01, ratio: 1.01, tied: true)
    let slower = candidate("d", .accepted, 0.90, ratio: 1.2, tied: false)  // a lower median, but not tied
    let inaccurate = candidate("e", .accepted, 0.95, ratio: nil, tied: true, error: 1e-3)
    let dropped = candidate("f", .dropped, 0.5, ratio: nil, tied: nil)
    XCTAssertEqual(Tuner.tiedAlternative([chosen, slower, tiedSlower, fastest, inaccurate, dropped]), 3)
    XCTAssertEqual(Tuner.tiedAlternative([chosen, slower, tiedSlower]), 2)
    XCTAssertNil(Tuner.tiedAlternative([chosen, slower, inaccurate, dropped]))
    XCTAssertNil(Tuner.tiedAlternative([candidate("b", .chosen, 1.0, ratio: nil, tied: nil)]))
  }

  func testCompatibility() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    let plan = samplePlan(model: model)
    XCTAssertEqual(plan.compatibility(with: model, fingerprint: fingerprint()), .compatible)
    var foreign = plan
    foreign.fingerprintId = "elsewhere"
    guard case .otherMachine = foreign.compatibility(with: model, fingerprint: fingerprint()) else { return XCTFail("expected otherMachine") }
    guard case .incompatible(let why) = plan.compatibility(with: try ResNetModel(depth: .resnet34, inputSize: 32, classes: 4),
                                                           fingerprint: fingerprint()) else { return XCTFail("expected incompatible") }
    XCTAssertTrue(why.contains("model resnet18"), why)
  }

  func testMalformedPlansGiveOneLineErrors() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    let good = try samplePlan(model: model).encoded()
    let text = String(decoding: good, as: UTF8.self)
    let cases: [(Data, String)] = [
      (Data(), "empty file"),
      (good.prefix(good.count / 2), "malformed or truncated JSON"),
      (Data("[1, 2]".utf8), "wrong type"),
      (Data(text.replacingOccurrences(of: "\"schemaVersion\" : \(Plan.currentSchemaVersion)", with: "\"schemaVersion\" : 99").utf8), "schema version 99"),
      // A duplicate key makes JSONSerialization refuse the document while
      // JSONDecoder reads it; the version must still be checked (fuzz finding).
      (Data(text.replacingOccurrences(of: "\"schemaVersion\" : \(Plan.currentSchemaVersion)", with: "\"schemaVersion\" : 0, \"batch\" : 1").utf8), "schema version 0"),
      (Data(text.replacingOccurrences(of: "\"inputSize\"", with: "\"size\"").utf8), "missing field 'inputSize'"),
      (Data(text.replacingOccurrences(of: "mb1ic3ih32", with: "mb1ic3ihXX").utf8), "field 'ih' has no number"),
      (Data(text.replacingOccurrences(of: "\"config\" : \"default\",\n      \"descriptor\"", with: "\"config\" : \"rows\",\n      \"descriptor\"").utf8), "malformed config"),
    ]
    for (data, expected) in cases {
      XCTAssertThrowsError(try Plan.decode(data, source: "p.json"), expected) { error in
        XCTAssertTrue("\(error)".contains(expected), "got '\(error)', expected '\(expected)'")
        XCTAssertFalse("\(error)".contains("\n"))
      }
    }
  }

  func testPlanForAnotherNetworkOrUnknownBackendIsRefused() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    let plan = samplePlan(model: model)
    for (other, expected) in [
      (try ResNetModel(depth: .resnet34, inputSize: 32, classes: 4), "model resnet18"),
      (try ResNetModel(depth: .resnet18, batch: 2, inputSize: 32, classes: 4), "batch 1"),
      (try ResNetModel(depth: .resnet18, inputSize: 64, classes: 4), "input size 32"),
    ] {
      XCTAssertThrowsError(try plan.assignment(for: other)) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
    }
    var unknown = plan
    unknown.shapes[0].backend = "quantum"
    XCTAssertThrowsError(try unknown.assignment(for: model)) { XCTAssertTrue("\($0)".contains("unknown backend 'quantum'")) }
    var badConfig = plan
    badConfig.shapes[0].config = "tile=99"
    XCTAssertThrowsError(try badConfig.assignment(for: model)) { XCTAssertTrue("\($0)".contains("does not offer")) }
    var missing = plan
    missing.shapes.removeLast()
    XCTAssertThrowsError(try missing.assignment(for: model)) { XCTAssertTrue("\($0)".contains("no entry for shape")) }
  }

  func testTunerWithTinyBudgetCoversEveryShapeAndReusesAPreviousPlan() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    var options = TuningOptions(backends: BackendRegistry.all)
    options.budgetSeconds = 0.5
    options.repetitions = 3
    let pool = ThreadPool.shared(threads: 1)
    let fp = MachineFingerprint.current(threads: 1)
    let plan = Tuner(model: model, options: options, pool: pool).tune(fingerprint: fp)
    XCTAssertEqual(plan.shapes.count, model.distinctShapes.count)
    for shape in plan.shapes {
      let chosen = shape.candidates.filter { $0.status == .chosen }
      XCTAssertEqual(chosen.count, 1, shape.descriptor)
      XCTAssertEqual(chosen.first?.backend, shape.backend)
      XCTAssertLessThanOrEqual(chosen.first?.maxError ?? 1, chosen.first?.tolerance ?? 0)
    }
    XCTAssertEqual(try plan.assignment(for: model).count, model.layers.count)
    // The search overran its half second: the in-network check runs its minimum.
    XCTAssertEqual(plan.refinement?.rounds, options.refinementRounds)
    // A plan from this machine is reused shape for shape; one from elsewhere is not.
    var partial = plan
    partial.shapes.removeLast()
    let resumed = Tuner(model: model, options: options, pool: pool).tune(previous: partial, fingerprint: fp)
    XCTAssertEqual(resumed.shapes.prefix(partial.shapes.count).map(\.candidates), partial.shapes.map(\.candidates))
    var foreign = plan
    foreign.fingerprintId = "elsewhere"
    var messages: [String] = []
    _ = Tuner(model: model, options: options, pool: pool, progress: { messages.append($0) }).tune(previous: foreign, fingerprint: fp)
    XCTAssertTrue(messages.contains { $0.contains("re-measuring every shape") })
  }

  /// Budget the per-shape search leaves goes to the in-network check: on a
  /// 32-pixel ResNet-18 a round of its six engines costs milliseconds, so a
  /// budget of seconds left affords the most rounds, every engine in every
  /// round (the comparisons pair them).
  func testInNetworkCheckSpendsTheBudgetLeftOnPairedRounds() throws {
    let model = try ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
    var options = TuningOptions(backends: BackendRegistry.all)
    options.budgetSeconds = 20
    options.repetitions = 3
    let pool = ThreadPool.shared(threads: 1)
    let start = Stopwatch.now()
    let plan = Tuner(model: model, options: options, pool: pool).tune(fingerprint: MachineFingerprint.current(threads: 1))
    let refinement = try XCTUnwrap(plan.refinement)
    XCTAssertEqual(refinement.rounds, options.refinementRounds * SamplingPolicy.extensionFactor)
    XCTAssertLessThan(Stopwatch.now() - start, options.budgetSeconds * 1.5, "the check stays within the budget left")
  }
}

