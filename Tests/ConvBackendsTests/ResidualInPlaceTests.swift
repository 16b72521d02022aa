@testable import ConvBackends
import ConvCore
import Measurement
import XCTest

/// `PreparedConvolution.residualInPlace`: a layer that claims it computes the
/// same output, bit for bit, when the output buffer is the residual buffer;
/// and the claim is withheld where aliasing would change the result.
final class ResidualInPlaceTests: XCTestCase {
  /// Runs `prepared` once into a separate output and once over a copy of the
  /// residual; returns both outputs.
  private func outputs(_ prepared: PreparedConvolution, seed: UInt64, threads: Int = 2) -> (separate: [Float], aliased: [Float]) {
    let p = prepared.problem
    let trial = LayerTrial(problem: p, seed: seed, pool: .shared(threads: threads))
    let workspace = Workspace(byteCount: prepared.workspaceBytes)
    let separate = AlignedBuffer(count: p.outputCount)
    prepared.run(input: UnsafePointer(trial.input.pointer), output: separate.pointer,
                 residual: UnsafePointer(trial.residual.pointer), relu: true, workspace: workspace.pointer, pool: trial.pool)
    let aliased = AlignedBuffer(count: p.outputCount)
    aliased.pointer.update(from: trial.residual.pointer, count: p.outputCount)
    prepared.run(input: UnsafePointer(trial.input.pointer), output: aliased.pointer,
                 residual: UnsafePointer(aliased.pointer), relu: true, workspace: workspace.pointer, pool: trial.pool)
    return (separate.array, aliased.array)
  }

  private func prepare(_ backend: any ConvolutionBackend, _ descriptor: String, _ config: String) throws -> PreparedConvolution {
    let p = try ConvProblem(descriptor: descriptor)
    return try backend.prepare(p, weights: .random(for: p, seed: 5), config: try XCTUnwrap(BackendConfig(parsing: config), config))
  }

  /// Every backend configuration that claims it, on the residual layers'
  /// shapes (1×1 expansions, 3×3 for Winograd) and edge shapes with partial
  /// tiles and channel runs shorter than a vector.
  func testClaimedLayersGiveTheSameOutputOverTheirResidual() throws {
    // A tile of odd rows (196 pixels leave a partial one) that exists at the
    // machine's native width: 7 rows with 16-float vectors, 5 with 8.
    let oddRows = KernelTable.nativeLanes(on: MachineModel.current) >= 16 ? "mr=7,nr=2" : "mr=5,nr=2"
    let cases: [(any ConvolutionBackend, String, String)] = [
      (TiledSIMDBackend(), "mb1ic64ih14iw14oc256kh1kw1sh1sw1ph0pw0", "default"),
      (TiledSIMDBackend(), "mb1ic64ih14iw14oc256kh1kw1sh1sw1ph0pw0", oddRows + ",split=2"),
      (TiledSIMDBackend(), "mb1ic64ih14iw14oc256kh1kw1sh1sw1ph0pw0", "order=1"),
      (TiledSIMDBackend(), "mb2ic13ih9iw11oc37kh3kw3sh1sw1ph1pw1", "default"),
      (TiledSIMDBackend(), "mb1ic512ih7iw7oc2048kh1kw1sh1sw1ph0pw0", "split=1"),
      (WinogradBackend(), "mb1ic64ih14iw14oc64kh3kw3sh1sw1ph1pw1", "m=4"),
      (WinogradBackend(), "mb1ic64ih14iw14oc64kh3kw3sh1sw1ph1pw1", "m=3,split=1"),
      (WinogradBackend(), "mb2ic19ih9iw11oc21kh3kw3sh1sw1ph1pw1", "m=2"),
      (WinogradBackend(), "mb1ic64ih7iw7oc64kh3kw3sh1sw1ph1pw1", "dims=1"),
    ]
    var claimed = 0
    for (i, (backend, descriptor, config)) in cases.enumerated() {
      let prepared = try prepare(backend, descriptor, config)
      guard prepared.residualInPlace else { continue }
      claimed += 1
      let (separate, aliased) = outputs(prepared, seed: UInt64(i + 1))
      let differing = zip(separate, aliased).filter { $0.bitPattern != $1.bitPattern }.count
      XCTAssertEqual(differing, 0, "\(backend.name) [\(config)] on \(descriptor): \(differing) outputs differ over the residual")
    }
    XCTAssertEqual(claimed, cases.count, "every case above is one the backends claim")
  }

  /// Blocked channels store partial sums before the last block adds the
  /// residual: aliased, those sums overwrite it. The claim is withheld, and
  /// the aliased run does differ (so the check above would catch a false claim).
  func testBlockedChannelsWithholdTheClaimAndWouldBreak() throws {
    let prepared = try prepare(TiledSIMDBackend(), "mb1ic256ih7iw7oc64kh1kw1sh1sw1ph0pw0", "kc=128")
    XCTAssertFalse(prepared.residualInPlace)
    let (separate, aliased) = outputs(prepared, seed: 3)
    XCTAssertGreaterThan(zip(separate, aliased).filter { $0 != $1 }.count, separate.count / 2)
  }

  /// The BLAS backends write the product into the output before adding the
  /// residual, and say so.
  func testOtherBackendsDoNotClaim() throws {
    let p = try ConvProblem(descriptor: "mb1ic16ih7iw7oc32kh1kw1sh1sw1ph0pw0")
    for backend in BackendRegistry.all where !(backend is TiledSIMDBackend) && !(backend is WinogradBackend) {
      guard case .yes = backend.canRun(p), let prepared = try? backend.prepare(p, weights: .random(for: p, seed: 1), config: .default)
      else { continue }
      XCTAssertFalse(prepared.residualInPlace, backend.name)
    }
  }
}
