@testable import ConvBackends
import ConvCore
import Foundation
import XCTest

final class Im2colBackendTests: XCTestCase {
  static let backends = [Im2colGemmBackend.openBLAS, Im2colGemmBackend.blis]

  private func requireAvailable(_ backend: Im2colGemmBackend) throws {
    if let why = backend.availability.reason { try ConvTestSupport.requireOrSkip("\(backend.name) unavailable: \(why)") }
  }

  func testResNet50Shapes() throws {
    for backend in Self.backends {
      try requireAvailable(backend)
      for descriptor in ConvTestSupport.resnet50Shapes {
        try ConvTestSupport.check(backend, ConvProblem(descriptor: descriptor), seed: UInt64(descriptor.count))
      }
    }
  }

  func testGeneratedEdgeShapesAndEveryConfiguration() throws {
    for backend in Self.backends {
      try requireAvailable(backend)
      for (i, p) in ConvTestSupport.edgeShapes(count: 80, seed: 23).enumerated() {
        try ConvTestSupport.check(backend, p, seed: UInt64(i))
      }
      // Row blocks smaller than, equal to and larger than M, with tails.
      let p = try ConvProblem(descriptor: "mb2ic5ih23iw19oc7kh3kw3sh1sw1ph1pw1")
      for rows in [0, 1, 7, 256, 1000, 5000] {
        try ConvTestSupport.check(backend, p, config: BackendConfig(["rows": rows]), seed: UInt64(rows))
      }
      for config in backend.configurations(for: p) { try ConvTestSupport.check(backend, p, config: config, seed: 4) }
      XCTAssertThrowsError(try backend.prepare(p, weights: .random(for: p, seed: 0), config: BackendConfig(["tile": 4])))
    }
  }

  func testPointwiseLayerReadsInputWithoutWorkspace() throws {
    for backend in Self.backends {
      try requireAvailable(backend)
      let p = try ConvProblem(descriptor: "mb1ic64ih56iw56oc256kh1kw1sh1sw1ph0pw0")
      XCTAssertEqual(try backend.prepare(p, weights: .random(for: p, seed: 0), config: .default).workspaceBytes, 0)
      let strided = try ConvProblem(descriptor: "mb1ic64ih56iw56oc256kh1kw1sh2sw2ph0pw0")
      XCTAssertGreaterThan(try backend.prepare(strided, weights: .random(for: strided, seed: 0), config: .default).workspaceBytes, 0)
    }
  }

  /// Each backend's GEMM function pointer lives in the library file it claims,
  /// and the two libraries are different files.
  func testEachBackendIsBoundToItsOwnLibrary() throws {
    var files: [String] = []
    for backend in Self.backends {
      try requireAvailable(backend)
      let lib = try backend.library.get()
      let file = try XCTUnwrap(lib.library.symbolFile(lib.gemmSymbol))
      XCTAssertEqual(file, lib.library.path)
      XCTAssertTrue(file.contains(lib.libraryName == "BLIS" ? "libblis" : "libopenblas"), "\(lib.gemmSymbol) of \(backend.name) is in \(file)")
      files.append(file)
    }
    XCTAssertEqual(Set(files).count, files.count, "the two backends share a library: \(files)")
  }

  func testMissingLibraryIsReportedNotFatal() throws {
    switch BLASLibrary.open(candidates: ["/nonexistent/libopenblas.so.0"], override: "RESNET_BENCH_TEST_UNSET_VARIABLE", required: ["cblas_sgemm"]) {
    case .success: XCTFail("a missing file opened")
    case .failure(let error): XCTAssertTrue(error.message.contains("/nonexistent/libopenblas.so.0"), error.message)
    }
    // A library that loads but lacks the symbol is also refused, with the symbol named.
    let libc = "libc.so.6"
    switch BLASLibrary.open(candidates: [libc], override: "RESNET_BENCH_TEST_UNSET_VARIABLE", required: ["cblas_sgemm"]) {
    case .success: XCTFail("libc accepted as a BLAS")
    case .failure(let error): XCTAssertTrue(error.message.contains("lacks cblas_sgemm"), error.message)
    }
  }
}
