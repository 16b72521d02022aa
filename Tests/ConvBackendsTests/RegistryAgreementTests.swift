import ConvBackends
import ConvCore
import XCTest

/// Every registered backend against the Float64 reference, from the registry's
/// own list: a backend is tested the moment it is registered. Shapes a
/// backend declines (`supports`) are skipped for it, and each decline must
/// come with a reason.
final class RegistryAgreementTests: XCTestCase {
  /// The backends that can run here; an unavailable one is reported, not silently passed.
  private func backends() throws -> [any ConvolutionBackend] {
    for b in BackendRegistry.all where !b.availability.isAvailable {
      try ConvTestSupport.requireOrSkip("\(b.name): \(b.availability.reason ?? "")")
    }
    return BackendRegistry.available
  }

  func testEveryBackendOnResNet50Shapes() throws {
    for backend in try backends() where backend.networkRepetitionCap == nil {
      for descriptor in ConvTestSupport.resnet50Shapes {
        let p = try ConvProblem(descriptor: descriptor)
        guard backend.supports(p).isSupported else { continue }
        try ConvTestSupport.check(backend, p, seed: UInt64(descriptor.count))
      }
    }
  }

  /// ≥ 200 generated shapes with groups (dividing the channels and equal to
  /// them), dilation 1–3, padding up to and beyond the kernel, and output sizes
  /// implying extra bottom/right padding, on every backend.
  func testEveryBackendOnGeneralShapes() throws {
    let shapes = ConvTestSupport.edgeShapes(count: 240, seed: 91, general: true)
    XCTAssertGreaterThanOrEqual(shapes.filter { $0.groups > 1 }.count, 40)
    XCTAssertTrue(shapes.contains { $0.groups > 1 && $0.groups == $0.inChannels })
    XCTAssertGreaterThanOrEqual(shapes.filter(\.isDilated).count, 30)
    XCTAssertTrue(shapes.contains { $0.padTop >= $0.kernelHeight })
    XCTAssertTrue(shapes.contains { $0.hasAsymmetricPadding && $0.padBottom > $0.padTop })
    for backend in try backends() {
      var computed = 0
      for (i, p) in shapes.enumerated() {
        if case .no(let why) = backend.supports(p) {
          XCTAssertFalse(why.isEmpty, "\(backend.name) declines \(p.descriptor) without a reason")
          continue
        }
        try ConvTestSupport.check(backend, p, seed: UInt64(i))
        computed += 1
      }
      XCTAssertGreaterThan(computed, 0, "\(backend.name) computed none of the general shapes")
    }
  }

  /// What cold-weight timing evicts must be the weights a run reads: every
  /// backend lists buffers that add up to its `packedWeightBytes` (a backend
  /// that kept the protocol's empty default would be timed warm beside cold
  /// ones), and evicting them leaves the weights intact (the same output after).
  func testPackedWeightBuffersAreTheWeightsAndSurviveEviction() throws {
    let pool = ThreadPool.shared(threads: 1)
    for descriptor in ["mb1ic24ih9iw9oc40kh3kw3sh1sw1ph1pw1", "mb1ic64ih7iw7oc30kh1kw1sh1sw1ph0pw0"] {
      let p = try ConvProblem(descriptor: descriptor)
      for backend in try backends() where backend.supports(p).isSupported {
        let prepared = try backend.prepare(p, weights: .random(for: p, seed: 3), config: .default)
        let buffers = prepared.packedWeightBuffers
        XCTAssertFalse(buffers.isEmpty, "\(backend.name): no weight buffers listed")
        XCTAssertEqual(CacheEviction.bytes(buffers), prepared.packedWeightBytes, "\(backend.name) \(descriptor)")
        var rng = SeededGenerator(seed: 4)
        let input = AlignedBuffer(rng.normals(p.inputCount))
        let workspace = Workspace(byteCount: prepared.workspaceBytes)
        let before = AlignedBuffer(count: p.outputCount), after = AlignedBuffer(count: p.outputCount)
        prepared.run(input: input.pointer, output: before.pointer, residual: nil, relu: true, workspace: workspace.pointer, pool: pool)
        CacheEviction.evict(buffers)
        prepared.run(input: input.pointer, output: after.pointer, residual: nil, relu: true, workspace: workspace.pointer, pool: pool)
        XCTAssertEqual(before.array, after.array, "\(backend.name): output changed after eviction")
      }
    }
  }

  /// The shapes every general backend must compute (only Winograd may decline some).
  func testGeneralBackendsDeclineNothing() throws {
    let shapes = ConvTestSupport.edgeShapes(count: 60, seed: 5, general: true)
    for backend in try backends() where backend.fallbackRank != nil {
      for p in shapes { XCTAssertTrue(backend.supports(p).isSupported, "\(backend.name) declines \(p.descriptor)") }
    }
  }
}
